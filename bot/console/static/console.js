// The console's few behaviours, without inline handlers (the Content-Security-Policy allows
// scripts from /console/static only):
//   <form data-confirm="确定…？">   asks before submitting
//   <select data-autosubmit>       submits its form when changed
//   <a href="/console/" data-back> goes back a page (the href when there is none)
//   <select data-home-select>      its form's <input data-home="…"> fields hold the home's
//                                  value while "" (home) is chosen, and are cleared of it
//                                  when another place is chosen
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);
  document.addEventListener("click", function (event) {
    var link = event.target && event.target.closest && event.target.closest("a[data-back]");
    if (link && window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field && field.hasAttribute && field.hasAttribute("data-autosubmit") && field.form) {
      field.form.requestSubmit ? field.form.requestSubmit() : field.form.submit();
    }
    if (field && field.hasAttribute && field.hasAttribute("data-home-select") && field.form) {
      var home = field.value === "";
      field.form.querySelectorAll("input[data-home]").forEach(function (input) {
        var value = input.getAttribute("data-home");
        if (home && input.value === "") {
          input.value = value;
        } else if (!home && value !== "" && input.value === value) {
          input.value = "";
        }
      });
    }
  });
})();
