// The demo page's own script: the "Ask a barista" button opens the chat through window.Natter.
document.getElementById('ask').addEventListener('click', function () {
  window.Natter.open();
});
