"""The lowest layer: what crosses process and layer boundaries (no project imports).

``contracts.sync`` holds the dataclasses the workflow, the activities, the CLI and the
runtime exchange; ``contracts.search_attributes`` the Temporal search-attribute registry.
Everything else imports these; they import nothing of the project.
"""
