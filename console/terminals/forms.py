"""The terminal page's two forms. The page's script opens the websocket with their
values; the websocket checks them again (console/terminals/services.py)."""

from django import forms

from console.terminals.services import DEFAULT_DETACH_KEYS


class ExecForm(forms.Form):
    cmd = forms.CharField(label="Command", required=False, max_length=4000,
                          help_text="Empty: a shell (bash where the image has it, else sh).")  # fmt: skip
    user = forms.CharField(label="User (-u)", required=False, max_length=129, help_text="name, uid or uid:gid")
    workdir = forms.CharField(label="Working folder (-w)", required=False, max_length=1024)
    env = forms.CharField(label="Environment (-e)", required=False, widget=forms.Textarea(attrs={"rows": 2}),
                          help_text="NAME=value, one per line (the audit trail keeps only the names).")  # fmt: skip


class AttachForm(forms.Form):
    input = forms.BooleanField(label="Type into the process (off: --no-stdin)", required=False, initial=True)
    sig_proxy = forms.BooleanField(label="Ctrl-C sends SIGINT to the process (--sig-proxy, no TTY)",
                                   required=False, initial=True)  # fmt: skip
    detach_keys = forms.CharField(label="Detach keys", initial=DEFAULT_DETACH_KEYS, max_length=64,
                                  help_text="Typed in the terminal, they detach and leave the container running.")  # fmt: skip
