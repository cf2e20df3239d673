"""HTTP only: FastAPI routers, authentication, request and response schemas."""
