/* Behaviour of the web pages (assistant/ui), served by the app at /interfaccia/ui.js.
 * window.ETICHETTE_IT (English label as Gradio writes it -> Italian) is put before this
 * file by the server, from gradio_labels in assistant/data/ui_it.yaml.
 *  - Gradio's own controls get Italian labels (aria-label, title, button text);
 *  - the page is declared Italian (lang="it");
 *  - tabs answer the arrow keys, Home and End (WAI-ARIA tabs pattern);
 *  - an answer's [n] markers move to their source card;
 *  - the conversation is aria-busy while an answer is being written;
 *  - aria-controls never names an element that is not in the page;
 *  - a dropdown's list opens below its field, not over its label.
 * Nothing is fetched from elsewhere; no eval. */
(function () {
  "use strict";
  var labels = window.ETICHETTE_IT || {};
  var ATTRIBUTES = ["aria-label", "title", "placeholder", "aria-roledescription"];

  var prefixes = window.PREFISSI_IT || {};

  /* The Italian for an English label of Gradio's, or null when it is not one. */
  function italian(value) {
    var text = (value || "").trim();
    if (!text) return null;
    if (Object.prototype.hasOwnProperty.call(labels, text)) return labels[text];
    for (var prefix in prefixes) {
      if (Object.prototype.hasOwnProperty.call(prefixes, prefix) && text.indexOf(prefix) === 0) {
        return prefixes[prefix].replace("{}", text.slice(prefix.length));
      }
    }
    return null;
  }

  function relabel(root) {
    var nodes = (root.querySelectorAll ? root.querySelectorAll("*") : []);
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      for (var a = 0; a < ATTRIBUTES.length; a++) {
        var value = italian(el.getAttribute(ATTRIBUTES[a]));
        if (value !== null) el.setAttribute(ATTRIBUTES[a], value);
      }
      if (el.childElementCount === 0 && el.textContent &&
          (el.tagName === "BUTTON" || el.tagName === "SPAN" || el.tagName === "LABEL" ||
           el.tagName === "DIV" || el.tagName === "P")) {
        var text = italian(el.textContent);
        if (text !== null) el.textContent = text;
      }
    }
  }

  function tabsOf(tab) {
    var list = tab.closest("[role=tablist]");
    if (!list) return [];
    return Array.prototype.filter.call(list.querySelectorAll("[role=tab]"), function (t) {
      return t.offsetParent !== null && !t.disabled;
    });
  }

  function rovingTabindex() {
    var tabs = document.querySelectorAll("[role=tablist] [role=tab]");
    for (var i = 0; i < tabs.length; i++) {
      var selected = tabs[i].getAttribute("aria-selected") === "true";
      if (tabs[i].getAttribute("tabindex") !== (selected ? "0" : "-1")) {
        tabs[i].setAttribute("tabindex", selected ? "0" : "-1");
      }
    }
  }

  document.addEventListener("keydown", function (event) {
    var tab = event.target && event.target.closest && event.target.closest("[role=tab]");
    if (!tab) return;
    var tabs = tabsOf(tab);
    var index = tabs.indexOf(tab);
    if (index < 0) return;
    var next = null;
    if (event.key === "ArrowRight" || event.key === "ArrowDown") next = tabs[(index + 1) % tabs.length];
    else if (event.key === "ArrowLeft" || event.key === "ArrowUp") next = tabs[(index - 1 + tabs.length) % tabs.length];
    else if (event.key === "Home") next = tabs[0];
    else if (event.key === "End") next = tabs[tabs.length - 1];
    if (!next) return;
    event.preventDefault();
    next.click();
    next.focus();
  });

  document.addEventListener("click", function (event) {
    var link = event.target && event.target.closest && event.target.closest("a.rif");
    if (!link) return;
    var id = (link.getAttribute("href") || "").replace(/^#/, "");
    var card = id && document.getElementById(id);
    if (!card) return;
    event.preventDefault();
    event.stopPropagation();
    if (!card.hasAttribute("tabindex")) card.setAttribute("tabindex", "-1");
    var details = card.querySelector("details");
    if (details) details.open = true;
    card.scrollIntoView({ block: "center" });
    card.focus({ preventScroll: true });
    card.classList.add("fonte-evidenziata");
    window.setTimeout(function () { card.classList.remove("fonte-evidenziata"); }, 2000);
  }, true);

  function markBusy() {
    var chat = document.getElementById("chat");
    if (!chat) return;
    var log = chat.querySelector("[role=log]") || chat;
    var busy = chat.querySelector(".messaggio[aria-busy=true], .attesa, .pending") !== null;
    var value = busy ? "true" : "false";
    [log, chat].forEach(function (el) {
      if (el.getAttribute("aria-busy") !== value) el.setAttribute("aria-busy", value);
    });
  }

  /* Gradio leaves aria-controls naming panels and option lists that are not in the page
     (a tab not shown, a closed dropdown): a dangling reference is invalid ARIA, so it is
     kept aside in data-aria-controls until its element exists. */
  function danglingControls() {
    var nodes = document.querySelectorAll("[aria-controls], [data-aria-controls]");
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      var id = el.getAttribute("aria-controls") || el.getAttribute("data-aria-controls");
      var present = id && document.getElementById(id) !== null;
      if (!present && el.hasAttribute("aria-controls")) {
        el.setAttribute("data-aria-controls", id);
        el.removeAttribute("aria-controls");
      } else if (present && !el.hasAttribute("aria-controls")) {
        el.setAttribute("aria-controls", id);
      }
    }
  }

  /* Gradio opens a dropdown's list upwards when there is more room above, covering the
     field's own label (and the field before it) while one tabs through the filters: open
     it downwards whenever the room below is enough. */
  function listsBelow() {
    var input = document.activeElement;
    if (!input || input.getAttribute("role") !== "combobox") return;
    var block = input.closest(".block");
    var list = block && block.querySelector(".options");
    if (!list || !list.style.bottom || list.style.bottom === "auto") return;
    var field = (input.closest(".wrap") || input).getBoundingClientRect();
    var room = window.innerHeight - field.bottom - 12;
    if (room < Math.min(list.scrollHeight, 160)) return;
    list.style.bottom = "auto";
    list.style.top = (field.bottom + 4) + "px";
    list.style.maxHeight = room + "px";
  }

  var scheduled = false;
  function update() {
    scheduled = false;
    if (document.documentElement.getAttribute("lang") !== "it") {
      document.documentElement.setAttribute("lang", "it");
    }
    relabel(document.body);
    danglingControls();
    listsBelow();
    rovingTabindex();
    markBusy();
  }

  function schedule() {
    if (!scheduled) {
      scheduled = true;
      window.requestAnimationFrame(update);
    }
  }

  function start() {
    update();
    new MutationObserver(schedule).observe(document.body, {
      subtree: true, childList: true, characterData: true, attributes: true,
      attributeFilter: ["aria-label", "title", "placeholder", "aria-selected", "class",
                        "aria-controls", "aria-expanded", "style"]
    });
  }

  document.documentElement.setAttribute("lang", "it");
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
