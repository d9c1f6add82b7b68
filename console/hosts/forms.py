from django import forms

from console.hosts.models import Host, validate_tls

TLS_PARTS = ("tls_ca", "tls_cert", "tls_key")
MAX_PEM = 64 * 1024


class HostForm(forms.ModelForm):
    """Host fields; TLS material is uploaded as PEM files and never shown again.
    On edit, an empty upload keeps what is stored."""

    tls_ca = forms.FileField(label="TLS CA certificate (PEM)", required=False)
    tls_cert = forms.FileField(label="TLS client certificate (PEM)", required=False)
    tls_key = forms.FileField(label="TLS client key (PEM)", required=False)
    clear_tls = forms.BooleanField(label="Remove the stored TLS material", required=False)

    class Meta:
        model = Host
        fields = ("name", "url", "description", "enabled")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            del self.fields["clear_tls"]
            return
        for part in TLS_PARTS:  # the secret is never shown: only whether there is one
            stored = getattr(self.instance, part)
            self.fields[part].help_text = "Stored (encrypted); upload a file to replace it." if stored else "Not set."

    def _pem(self, name):
        upload = self.cleaned_data.get(name)
        if not upload:
            return None
        if upload.size > MAX_PEM:
            self.add_error(name, "This file is too large for a PEM certificate or key.")
            return None
        try:
            return upload.read().decode("ascii").strip() + "\n"
        except UnicodeDecodeError:
            self.add_error(name, "This file is not PEM text.")
            return None

    def clean(self):
        cleaned = super().clean()
        stored = {p: "" if cleaned.get("clear_tls") else getattr(self.instance, p) for p in TLS_PARTS}
        uploaded = {p: self._pem(p) for p in TLS_PARTS}
        self.tls = {p: uploaded[p] if uploaded[p] is not None else stored[p] for p in TLS_PARTS}
        try:
            validate_tls(*(self.tls[p] for p in TLS_PARTS))
        except forms.ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field, errors)
        url = cleaned.get("url") or ""
        if url.startswith(("unix://", "ssh://")) and (self.tls["tls_ca"] or self.tls["tls_cert"]):
            self.add_error("url", "TLS material applies to tcp:// hosts only.")
        return cleaned

    def host_fields(self):
        """Everything a service needs to create or update the host."""
        fields = {f: self.cleaned_data[f] for f in self.Meta.fields}
        return {**fields, **self.tls}

    def unsaved_host(self):
        host = Host(pk=self.instance.pk, **self.host_fields())
        return host
