"""Holds the script `flowscope dashboard` runs. It sits alone in this folder because Streamlit puts
the script's folder first on sys.path: flowscope/ui itself there would let `data`, `graph`,
`server`... shadow same-named top-level modules."""
