"""The product features over the layers below: chat Q&A with its history, compliant generation, client
data and consent, accounts."""
