"""The Streamlit app: shared state, navigation, thin page helpers (``ui/pages/`` holds the page scripts)."""
