"""Prompt templates, installed as the package `agent.prompts` (see pyproject's package-dir)."""
