from django import forms

from .mounts import NAME_MAX, check_name


class VolumeForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX, help_text="Letters, digits and . _ - (no / or ..).")

    def clean_name(self) -> str:
        check_name(self.cleaned_data["name"])
        return self.cleaned_data["name"]
