"""Client data for personalised material: imports, profiles and holdings, consents, synthetic samples."""
