// Kring: the browser's part of the passkey ceremonies (WebAuthn). Adds a passkey on the
// security page (form#passkey-add) and signs in with one at the second step
// (button#passkey-signin). Options come from the server as JSON with base64url fields; the
// browser's answer goes back the same way. Messages appear in #passkey-status.
(function () {
  "use strict";

  function decode(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    return Uint8Array.from(atob(s), function (c) { return c.charCodeAt(0); }).buffer;
  }

  function encode(buf) {
    var bytes = new Uint8Array(buf), s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function say(text) {
    var status = document.getElementById("passkey-status");
    if (status) {
      status.textContent = text;
      status.hidden = false;
    }
  }

  async function post(url, csrf, body) {
    var res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-kring-csrf": csrf },
      body: body === undefined ? "{}" : JSON.stringify(body)
    });
    var answer = {};
    try { answer = await res.json(); } catch (e) { answer = {}; }
    if (!res.ok) throw new Error(answer.error || res.statusText);
    return answer;
  }

  async function addPasskey(form) {
    var csrf = form.dataset.csrf;
    var name = form.querySelector("input[name=name]").value;
    var options = await post("/beveiliging/passkeys/opties", csrf);
    var pk = options.publicKey;
    pk.challenge = decode(pk.challenge);
    pk.user.id = decode(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = decode(c.id); });
    var cred = await navigator.credentials.create({ publicKey: pk });
    var r = cred.response;
    var done = await post("/beveiliging/passkeys", csrf, {
      name: name,
      credential: {
        id: cred.id,
        rawId: encode(cred.rawId),
        type: cred.type,
        extensions: cred.getClientExtensionResults(),
        response: {
          attestationObject: encode(r.attestationObject),
          clientDataJSON: encode(r.clientDataJSON),
          transports: r.getTransports ? r.getTransports() : undefined
        }
      }
    });
    window.location.assign(done.redirect);
  }

  async function signIn(button) {
    var csrf = button.dataset.csrf;
    var options = await post("/inloggen/passkey/opties", csrf);
    var pk = options.publicKey;
    pk.challenge = decode(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = decode(c.id); });
    var cred = await navigator.credentials.get({ publicKey: pk });
    var r = cred.response;
    var done = await post("/inloggen/passkey", csrf, {
      id: cred.id,
      rawId: encode(cred.rawId),
      type: cred.type,
      extensions: cred.getClientExtensionResults(),
      response: {
        authenticatorData: encode(r.authenticatorData),
        clientDataJSON: encode(r.clientDataJSON),
        signature: encode(r.signature),
        userHandle: r.userHandle ? encode(r.userHandle) : null
      }
    });
    window.location.assign(done.redirect);
  }

  function failed(el, e) {
    // The person cancelled, or the device refused: say so, in the page's language.
    var cancelled = e && (e.name === "NotAllowedError" || e.name === "AbortError");
    say(cancelled ? el.dataset.cancelled : (e && e.message) || el.dataset.cancelled);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("passkey-add");
    var button = document.getElementById("passkey-signin");
    var el = form || button;
    if (!el) return;
    if (!window.PublicKeyCredential || !navigator.credentials) {
      say(el.dataset.unsupported);
      return;
    }
    el.hidden = false;
    if (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        addPasskey(form).catch(function (e) { failed(form, e); });
      });
    }
    if (button) {
      button.addEventListener("click", function () {
        signIn(button).catch(function (e) { failed(button, e); });
      });
    }
  });
})();
