/**
 * The one script of the link page (GET /portal/login?token=…, served as /portal/assets/login.js):
 * it takes the token out of the address bar and the history, then posts the page's form, which
 * is what uses the link. A scanner that only fetches the URL runs none of this and leaves the link
 * working; a browser without script shows the form's button instead.
 */
const form = document.getElementById("login");
if (form instanceof HTMLFormElement) {
  history.replaceState(null, "", form.action);
  form.submit();
}
