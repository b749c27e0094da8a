"""First-start choice and the login / sign-up / password-reset forms."""

from __future__ import annotations

import streamlit as st

from alphaforge_app import state
from alphaforge_app.i18n import error_text, language, language_switch, t
from engine.store.accounts import AccountStore, AuthError
from engine.store.settings import AppSettings, load_settings, save_settings


def accounts() -> AccountStore:
    return AccountStore(state.home() / "accounts.db")


def first_start() -> None:
    st.title(t("auth.welcome_title"))
    st.write(t("auth.welcome_body"))
    c1, c2 = st.columns(2)
    # The language picked on this screen becomes the single user's remembered choice.
    if c1.button(t("auth.mode_single"), type="primary", use_container_width=True):
        save_settings(state.home(), AppSettings(mode="single", language=language()))
        st.rerun()
    if c2.button(t("auth.mode_accounts"), use_container_width=True):
        save_settings(state.home(), AppSettings(mode="accounts"))
        st.rerun()


def allowed() -> bool:
    """True when the app may show its pages: single-user mode or a logged-in user."""
    mode = load_settings(state.home()).mode
    return mode == "single" or (mode == "accounts" and state.current_user() is not None)


def gate_page() -> None:
    """The only page shown before ``allowed()``: first-start choice or the login forms."""
    language_switch(st.columns([3, 1])[1])
    if load_settings(state.home()).mode is None:
        first_start()
        return
    st.title(t("common.app_name"))
    login, signup, reset = st.tabs([t("auth.tab_login"), t("auth.tab_signup"),
                                    t("auth.tab_reset")])
    with login, st.form("login"):
        name = st.text_input(t("auth.user_name"), key="login_name")
        password = st.text_input(t("auth.password"), type="password", key="login_password")
        if st.form_submit_button(t("auth.login"), type="primary"):
            try:
                state.set_user(accounts().login(name, password))
                st.rerun()
            except AuthError as exc:
                st.error(error_text(exc))
    with signup, st.form("signup"):
        name = st.text_input(t("auth.user_name"), key="signup_name")
        password = st.text_input(t("auth.password_new_hint"), type="password",
                                 key="signup_password")
        if st.form_submit_button(t("auth.create_account")):
            try:
                result = accounts().sign_up(name, password)
                st.success(t("auth.account_created"))
                st.code(result.recovery_code, language=None)
            except AuthError as exc:
                st.error(error_text(exc))
    with reset, st.form("reset"):
        name = st.text_input(t("auth.user_name"), key="reset_name")
        code = st.text_input(t("auth.recovery_code"), key="reset_code")
        password = st.text_input(t("auth.new_password"), type="password", key="reset_password")
        if st.form_submit_button(t("auth.reset_password")):
            try:
                fresh = accounts().reset_password(name, code, password)
                st.success(t("auth.password_reset"))
                st.code(fresh, language=None)
            except AuthError as exc:
                st.error(error_text(exc))
