// persona serve: evidence opens in a dialog (the links work without this too), print button.
"use strict";
document.addEventListener("click", async (event) => {
  const link = event.target.closest("a.ev-link");
  if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
    const dialog = document.getElementById("evidence-dialog");
    if (!dialog || typeof dialog.showModal !== "function") return;
    event.preventDefault();
    const url = new URL(link.href);
    url.searchParams.set("frag", "1");
    const response = await fetch(url, { credentials: "same-origin" });
    dialog.querySelector(".ev-body").innerHTML = await response.text();
    if (!dialog.open) dialog.showModal();
    return;
  }
  if (event.target.closest("[data-print]")) window.print();
});
