"""Compliant content generation: product briefs to reviewed channel copy, personalised notes, batches."""
