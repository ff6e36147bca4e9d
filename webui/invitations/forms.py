from django import forms

from webui.accounts.models import Membership


class InviteForm(forms.Form):
    who = forms.CharField(label="Username or e-mail", max_length=254)
    role = forms.ChoiceField(choices=Membership.ROLES, initial=Membership.MEMBER,
                             help_text="Viewers watch; members also build, run and stop; owners also invite "
                                       "and change roles.")

