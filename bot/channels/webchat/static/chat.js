/* Lotsen web chat: send the page's forms with fetch and receive new messages as server-sent
   events, catching up from the last message the page has after a reconnect. Without this
   script every form still works (each answer is a new page). */
(function () {
  "use strict";
  var log = document.getElementById("log");
  if (!log || !window.fetch || !window.EventSource) { return; }
  var last = parseInt(log.getAttribute("data-last"), 10) || 0;
  var source = null;

  function add(entry) {
    if (entry.id <= last || document.getElementById("m" + entry.id)) { return; }
    var holder = document.createElement("template");
    holder.innerHTML = entry.html.trim();
    log.appendChild(holder.content);
    last = entry.id;
  }

  function listen() {
    if (source) { source.close(); }
    source = new EventSource("/chatt/events?after=" + last);
    source.addEventListener("entry", function (event) {
      add(JSON.parse(event.data));
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) { window.setTimeout(listen, 3000); }
    });
  }

  function nextMessageId(value) {
    var fields = document.querySelectorAll("input[name=msg]");
    for (var i = 0; i < fields.length; i += 1) { fields[i].value = value; }
  }

  function withoutScript(form, submitter) {
    /* What fetch could not send goes as an ordinary form: a new page, as without JavaScript. */
    if (submitter && submitter.name) {
      var field = document.createElement("input");
      field.type = "hidden";
      field.name = submitter.name;
      field.value = submitter.value;
      form.appendChild(field);
    }
    form.removeAttribute("data-fetch");
    form.submit();
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-fetch")) { return; }
    event.preventDefault();
    if (form.getAttribute("data-busy")) { return; }
    var submitter = event.submitter;
    var data = new FormData(form);
    if (submitter && submitter.name) { data.append(submitter.name, submitter.value); }
    form.setAttribute("data-busy", "1");
    var send = function (tries) {
      return fetch(form.getAttribute("action"), {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-Lotsen-Fetch": "1" }
      }).catch(function () {
        if (tries > 1) { return send(tries - 1); }
        throw new Error("offline");
      });
    };
    send(3).then(function (response) {
      if (!response.ok) { withoutScript(form, submitter); return null; }
      return response.json();
    }).then(function (answer) {
      if (!answer) { return; }
      form.removeAttribute("data-busy");
      if (answer.reload) { window.location.reload(); return; }
      nextMessageId(answer.next);
      var text = form.querySelector("textarea");
      if (text) { text.value = ""; text.focus(); }
    }).catch(function () {
      withoutScript(form, submitter);
    });
  });

  listen();
})();
