"""Prompt templates, installed as the package `agent._prompts` (see pyproject's package-dir)."""
