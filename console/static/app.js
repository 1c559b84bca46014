// DOOR OS console: small progressive enhancements. Every page works
// without this file.
document.addEventListener("DOMContentLoaded", function () {
  // The property picker follows a selection at once; its Go button stays
  // for keyboards and browsers without JavaScript.
  document.querySelectorAll("select[data-autosubmit], input[type=checkbox][data-autosubmit]").forEach(function (sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  });
  // Buttons with data-confirm ask before a destructive POST.
  document.querySelectorAll("[data-confirm]").forEach(function (el) {
    el.addEventListener("click", function (ev) {
      if (!window.confirm(el.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  });
  // "No expiration" clears the expiration field.
  document.querySelectorAll("[data-clear]").forEach(function (el) {
    el.addEventListener("click", function (ev) {
      ev.preventDefault();
      var target = document.getElementById(el.getAttribute("data-clear"));
      if (target) { target.value = ""; target.focus(); }
    });
  });
});
