from console.access import policy
from console.actions import REGISTRY


def access(request):
    """`can_admin` / `can_audit` for the navigation (display only; views check again)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "can_admin": policy.permits(user, REGISTRY["access.view"]),
        "can_audit": policy.permits(user, REGISTRY["audit.view"]),
    }
