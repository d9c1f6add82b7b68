"""Forms of the image pages: they check what a person typed (references, changes, the
upload or URL) and hand the services clean values."""

from urllib.parse import urlsplit

from django import forms

from console.containers.forms import COMMIT_INSTRUCTIONS, image_changes, repository_tag


class TagForm(forms.Form):
    reference = forms.CharField(label="New tag (repository:tag)", max_length=255)

    def clean_reference(self):
        return repository_tag(self.cleaned_data["reference"], required=True)


class ImportForm(forms.Form):
    file = forms.FileField(label="Root-filesystem tarball", required=False,
                           help_text="A tar of a root folder, e.g. from docker export (.tar, .tar.gz).")  # fmt: skip
    url = forms.URLField(label="…or a URL the daemon downloads it from", required=False, max_length=2000,
                         assume_scheme="https")  # fmt: skip
    repository = forms.CharField(label="Repository:tag", required=False, max_length=255,
                                 widget=forms.TextInput(attrs={"placeholder": "myapp:1.0"}),
                                 help_text="Empty: an untagged image.")  # fmt: skip
    changes = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text=f"Dockerfile instructions, one per line: {', '.join(COMMIT_INSTRUCTIONS)}.",
    )  # fmt: skip
    message = forms.CharField(required=False, max_length=4096, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_repository(self):
        return repository_tag(self.cleaned_data["repository"])

    def clean_url(self):
        url = self.cleaned_data["url"]
        if url and urlsplit(url).scheme not in ("http", "https"):
            raise forms.ValidationError("Give an http:// or https:// URL.")
        return url

    def clean_changes(self):
        return image_changes(self.cleaned_data["changes"])

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("file")) == bool(cleaned.get("url")) and not self.errors:
            raise forms.ValidationError("Give either a file or a URL.")
        return cleaned


class LoadForm(forms.Form):
    file = forms.FileField(label="Image tar (from docker save)")
