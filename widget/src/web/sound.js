// The reply tone (`data-sound`): a short soft beep made with Web Audio, so
// no sound file is fetched. Browsers keep an audio context silent until the
// page has had a user gesture; then it plays.

let audio;

export function chime() {
  try {
    audio ??= new AudioContext();
    const at = audio.currentTime;
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.08, at);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.25);
    tone.connect(gain).connect(audio.destination);
    tone.start(at);
    tone.stop(at + 0.25);
  } catch {
    // (no Web Audio: no tone)
  }
}
