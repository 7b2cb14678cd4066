// Sending files: one multipart POST with upload progress (fetch reports
// none), and the files a picker, a paste or a drop carries.

export function upload(url, key, token, echo, files, progress) {
  return new Promise((done) => {
    const form = new FormData();
    form.append("echoId", echo);
    for (const file of files) form.append("attachments[]", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-API-Key", key);
    xhr.setRequestHeader("X-Session-Token", token);
    xhr.upload.onprogress = (e) => e.lengthComputable && progress(e.loaded / e.total);
    xhr.onload = () => done([xhr.status, xhr.responseText]);
    xhr.onerror = xhr.onabort = () => done([0, null]);
    xhr.send(form);
  });
}

// Calls `attach(files, names, largest)` with the files of every picker
// `change`, `paste` and `drop` inside `root` (none of the page's own), their
// names and the largest size, keeping the browser from opening a dropped
// file itself. The listeners go with `root`.
export function listen(root, attach) {
  const take = (e) => {
    // A drag over the panel is only let through, so it may drop; its files come with the drop.
    if (e.type == "dragover") return e.preventDefault();
    const from = e.dataTransfer || e.clipboardData || e.target;
    const files = Array.from((from && from.files) || []);
    if (files.length) {
      e.preventDefault();
      attach(files, files.map((f) => f.name).join(", "), Math.max(...files.map((f) => f.size)));
    }
    if (e.target.type == "file") e.target.value = "";
  };
  for (const type of ["paste", "dragover", "drop", "change"]) root.addEventListener(type, take);
}
