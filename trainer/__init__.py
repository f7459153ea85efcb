"""Fine-tune a sequence classifier into a folder that mlapi serves as is."""
