from django import forms

from console.registries.models import Registry


class RegistryForm(forms.ModelForm):
    """Registry fields; the password is typed, never shown again (empty on edit: kept)."""

    password = forms.CharField(
        label="Password or token", required=False, max_length=4096,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )  # fmt: skip

    class Meta:
        model = Registry
        fields = ("name", "kind", "address", "plain_http", "username")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.password:
            self.fields["password"].help_text = "A password is stored: leave empty to keep it."

    def registry_fields(self):
        data = self.cleaned_data
        return {k: data[k] for k in (*self.Meta.fields, "password")}
