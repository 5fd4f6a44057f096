// The login form: a token pasted once per browser tab, kept in sessionStorage (api.js).
import { APIError, setToken } from "./api.js";
import { h, replace } from "./dom.js";

/** Shows the form; `accept(token)` checks it (GET /auth/whoami) and throws APIError when refused. */
export function renderLogin(main, message, accept) {
  const input = h("input", { id: "token", type: "password", autocomplete: "off", required: true,
    placeholder: "bearer token", "aria-label": "API token" });
  const error = h("p", { id: "login-error", class: "error" }, message || "");
  const form = h("form", { id: "login-form" },
    h("label", { for: "token" }, "API token (from the API's --auth-tokens-file)"), input,
    h("button", { type: "submit" }, "Log in"), error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      await accept(input.value.trim());
    } catch (failure) {
      setToken("");
      error.textContent = failure instanceof APIError && (failure.status === 401 || failure.status === 403)
        ? "That token was not accepted." : "Could not log in: " + (failure.message || failure);
    }
  });
  replace(main, h("section", { class: "login" }, h("h1", null, "Log in"),
    h("p", { class: "muted" }, "The token stays in this browser tab only (session storage) and is sent as an Authorization header."),
    form));
  input.focus();
}
