// The part of the screen a visitor can see, for the full-screen phone panel:
// a virtual keyboard shrinks the visual viewport (and may scroll it) without
// changing the layout viewport, so the panel is sized by `--natter-vh` and
// placed by `--natter-vt`, kept on the host element here. (Set through the
// CSSOM, which a strict Content-Security-Policy allows.)

export function followViewport(host) {
  const view = window.visualViewport;
  if (!view) return () => {};
  const fit = () => {
    host.style.setProperty("--natter-vh", view.height + "px");
    host.style.setProperty("--natter-vt", view.offsetTop + "px");
  };
  fit();
  view.addEventListener("resize", fit);
  view.addEventListener("scroll", fit);
  return () => {
    view.removeEventListener("resize", fit);
    view.removeEventListener("scroll", fit);
    host.style.removeProperty("--natter-vh");
    host.style.removeProperty("--natter-vt");
  };
}
