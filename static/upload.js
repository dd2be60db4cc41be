// Upload page: posts the form to the upload API with XMLHttpRequest so the bar shows progress.
// A refusal is shown beside the field it concerns; nothing the user entered is cleared.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) return;
  var artifact = document.getElementById("id_artifact");
  var evaluation = document.getElementById("id_evaluation_data");
  var target = document.getElementById("id_target");
  var zone = document.getElementById("dropzone");
  var chosen = document.getElementById("artifact-chosen");
  var submit = document.getElementById("upload-submit");
  var progressRow = document.getElementById("upload-progress");
  var bar = document.getElementById("progress");
  var barText = document.getElementById("progress-text");
  var topError = document.getElementById("error-form");

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var field = form.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function humanSize(bytes) {
    var units = ["bytes", "KB", "MB", "GB"];
    var i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
    return (i === 0 ? bytes : bytes.toFixed(1)) + " " + units[i];
  }

  function showChosen() {
    var file = artifact.files && artifact.files[0];
    chosen.textContent = file ? "Chosen: " + file.name + " (" + humanSize(file.size) + ")" : "";
    zone.classList.toggle("has-file", !!file);
    zone.classList.remove("invalid");
  }

  function clearErrors() {
    topError.hidden = true;
    topError.textContent = "";
    form.querySelectorAll(".errorlist").forEach(function (el) { el.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
    });
    zone.classList.remove("invalid");
  }

  // Puts the sentence next to its field (or at the top); returns the element to focus.
  function showError(field, message) {
    var box = field && document.getElementById("error-" + field);
    var input = field && form.querySelector("[name='" + field + "']");
    if (box && input) {
      box.textContent = message;
      input.setAttribute("aria-invalid", "true");
      if (input === artifact) zone.classList.add("invalid");
      return input;
    }
    topError.textContent = (topError.textContent ? topError.textContent + " " : "") + message;
    topError.hidden = false;
    return topError;
  }

  function setProgress(percent) {
    var value = Math.max(0, Math.min(100, Math.round(percent)));
    bar.value = value;
    bar.textContent = value + " %";
    barText.textContent = value + " %";
  }

  function finish(focusTarget) {
    submit.disabled = false;
    submit.textContent = "Upload";
    form.setAttribute("aria-busy", "false");
    if (focusTarget && focusTarget.focus) {
      if (focusTarget === topError) topError.setAttribute("tabindex", "-1");
      focusTarget.focus();
    }
  }

  function handleFailure(xhr) {
    var body = null;
    try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
    var first = null;
    if (body && body.fields && typeof body.fields === "object") {
      Object.keys(body.fields).forEach(function (name) {
        var messages = [].concat(body.fields[name]).join(" ");
        var el = showError(name, messages);
        first = first || el;
      });
    } else if (body && body.detail) {
      first = showError(body.field, body.detail);
    } else if (xhr.status === 0) {
      first = showError(null, "The connection failed before the upload finished. " +
        "Your entries are kept; check the network and upload again.");
    } else {
      first = showError(null, "The server refused the upload (HTTP " + xhr.status + "). " +
        "Your entries are kept; try again, or reload the page if you were signed out.");
    }
    progressRow.hidden = true;
    finish(first);
  }

  artifact.addEventListener("change", function () { showChosen(); });

  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (event) {
      event.preventDefault();
      zone.classList.add("over");
    });
  });
  ["dragleave", "dragend", "drop"].forEach(function (type) {
    zone.addEventListener(type, function () { zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    var files = event.dataTransfer && event.dataTransfer.files;
    if (!files || !files.length) return;
    artifact.files = files;
    artifact.dispatchEvent(new Event("change", { bubbles: true }));
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    var file = artifact.files && artifact.files[0];
    var maxBytes = parseInt(form.dataset.maxBytes, 10);
    var focusTarget = null;
    if (!file) {
      focusTarget = showError("artifact", "Choose the model file (.skops or .onnx) to upload.");
    } else if (maxBytes && file.size > maxBytes) {
      focusTarget = showError("artifact", "This file is " + humanSize(file.size) +
        ", larger than the " + humanSize(maxBytes) + " limit.");
    }
    var hasCsv = evaluation.files && evaluation.files.length > 0;
    if (hasCsv && !target.value.trim()) {
      focusTarget = focusTarget ||
        showError("target", "Say which column of the evaluation CSV is the target.");
    }
    if (focusTarget) { finish(focusTarget); return; }

    var data = new FormData(form);
    data.delete("csrfmiddlewaretoken");
    if (!hasCsv) {
      // The standing evaluation set is reused; its target is already known.
      data.delete("evaluation_data");
      data.delete("target");
    }

    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.dataset.apiUrl);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable && e.total > 0) setProgress((100 * e.loaded) / e.total);
    };
    xhr.upload.onload = function () { setProgress(100); };
    xhr.onload = function () {
      if (xhr.status === 201) {
        var version = JSON.parse(xhr.responseText).version;
        setProgress(100);
        submit.textContent = "Uploaded: opening v" + version + "…";
        // A short pause lets the finished bar be seen before the version page opens.
        window.setTimeout(function () {
          window.location.assign(form.dataset.versionUrl + version + "/");
        }, 300);
        return;
      }
      handleFailure(xhr);
    };
    xhr.onerror = function () { handleFailure(xhr); };

    setProgress(0);
    progressRow.hidden = false;
    submit.disabled = true;
    submit.textContent = "Uploading…";
    form.setAttribute("aria-busy", "true");
    xhr.send(data);
  });

  showChosen();
})();
