"""Knowledge for diagnosis: runbooks and documents (LanceDB + offline embeddings), and the HWA
message reference. The model and the database load lazily, never on the startup path."""
