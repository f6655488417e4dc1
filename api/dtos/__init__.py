"""Request and response bodies (the seed's DTOs), one module per resource."""
