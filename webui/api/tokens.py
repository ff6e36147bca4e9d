"""The page where a user makes and revokes their API tokens."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from webui.audit.log import record

from .models import ApiToken


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What it is for, e.g. “laptop CLI”.")


@login_required
def token_list(request):
    form = TokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        token, new_token = ApiToken.issue(request.user, form.cleaned_data["name"])
        record(request.user, None, "token.create", token)
    return render(request, "api/tokens.html", {"form": form, "new_token": new_token,
                                               "tokens": request.user.api_tokens.order_by("-created")},
                  status=400 if form.errors else 200)


def revoke(user, token: ApiToken) -> None:
    """The token stops working at once; the page and the API both revoke through here."""
    record(user, None, "token.revoke", token)  # before delete(), which clears token.id
    token.delete()


@login_required
@require_POST
def token_revoke(request, token_id):
    token = get_object_or_404(request.user.api_tokens, id=token_id)  # another user's: 404
    revoke(request.user, token)
    messages.info(request, f"Revoked {token.name}: it no longer works.")
    return redirect("tokens")
