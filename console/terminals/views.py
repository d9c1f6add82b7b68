"""The Terminal tab of the container page: exec and attach in xterm.js
(static/js/terminal.js); the sessions themselves are websockets
(console/terminals/consumers.py)."""

from django.shortcuts import render

from console.actions import authorize
from console.containers.services import container_detail
from console.pages import with_host
from console.terminals import viewers
from console.terminals.forms import AttachForm, ExecForm

TERMINAL_CODES = ("container.exec", "container.attach", "container.attach_input")


@with_host
def terminal(request, host, ref):
    actor = request.actor
    c = container_detail(actor=actor, host=host, ref=ref)
    if not c.permitted.intersection(TERMINAL_CODES):
        authorize(actor, "container.exec", host=host, target=c.target)  # refused and recorded
    base = f"/ws/hosts/{host.name}/containers/{c.target.id}/"
    mode = request.GET.get("mode", "")
    context = {
        "c": c, "host": host, "tab": "terminal",
        "exec_form": ExecForm(), "attach_form": AttachForm(),
        "can_exec": "container.exec" in c.permitted, "can_attach": "container.attach" in c.permitted,
        "can_type": "container.attach_input" in c.permitted,
        "exec_socket": base + "exec/", "attach_socket": base + "attach/",
        "autostart": mode if mode in ("exec", "attach") else "",
        "start": request.GET.get("start") == "1",
        "attached": viewers.names((host.pk, c.target.id)),
        "tty": bool(c.config.get("Tty")),
    }  # fmt: skip
    return render(request, "terminals/terminal.html", context)  # the strict policy: see xterm-csp.js
