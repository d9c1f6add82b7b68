from console.actions import Actor, allows


def access(request):
    """`can_admin` / `can_audit` for the navigation (display only; views check again)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    actor = Actor(user=user)
    return {"can_admin": allows(actor, "access.view"), "can_audit": allows(actor, "audit.view")}
