"""Planning: the manifest, its validation, trait expansion, seeds and the frozen plan."""
