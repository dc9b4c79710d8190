// Two small canvas plots: lines over time, and a compass for the talker's
// direction. Sized by the canvas' CSS box, sharp on high-DPI screens.

function fit(canvas) {
  const ratio = devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width;
  const h = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(w * ratio)) canvas.width = Math.round(w * ratio);
  if (canvas.height !== Math.round(h * ratio)) canvas.height = Math.round(h * ratio);
  const g = canvas.getContext('2d');
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, w, h);
  return { g, w, h };
}

const dim = () => getComputedStyle(document.documentElement).getPropertyValue('--dim') || '#888';

/// `series`: [{ values, colour }], newest last; 300 samples fill the width.
export function linePlot(canvas, series, { min, max, unit }) {
  const { g, w, h } = fit(canvas);
  g.strokeStyle = dim();
  g.globalAlpha = 0.35;
  g.beginPath();
  for (const f of [0, 0.5, 1]) {
    g.moveTo(0, f * (h - 1) + 0.5);
    g.lineTo(w, f * (h - 1) + 0.5);
  }
  g.stroke();
  g.globalAlpha = 1;
  const y = (v) => h - 2 - ((Math.min(max, Math.max(min, v)) - min) / (max - min || 1)) * (h - 4);
  for (const { values, colour } of series) {
    g.strokeStyle = colour;
    g.lineWidth = 1.5;
    g.beginPath();
    values.forEach((v, i) => {
      const x = w - (values.length - 1 - i) * (w / 299);
      if (i === 0) g.moveTo(x, y(v));
      else g.lineTo(x, y(v));
    });
    g.stroke();
  }
  g.fillStyle = dim();
  g.font = '10px system-ui, sans-serif';
  g.fillText(`${Math.round(max)} ${unit}`, 3, 11);
  g.fillText(`${Math.round(min)}`, 3, h - 3);
}

/// The array seen from above: 0° ahead of the camera, angles counter-
/// clockwise as the box measures them; a dot where the talker is.
export function polarPlot(canvas, degrees) {
  const { g, w, h } = fit(canvas);
  const r = Math.min(w, h) / 2 - 14;
  const [cx, cy] = [w / 2, h / 2];
  g.strokeStyle = dim();
  g.globalAlpha = 0.5;
  for (const f of [1, 0.5]) {
    g.beginPath();
    g.arc(cx, cy, r * f, 0, 2 * Math.PI);
    g.stroke();
  }
  g.globalAlpha = 1;
  g.fillStyle = dim();
  g.font = '10px system-ui, sans-serif';
  g.textAlign = 'center';
  for (const [label, a] of [['0°', 0], ['90°', 90], ['180°', 180], ['270°', 270]]) {
    const t = (a * Math.PI) / 180;
    g.fillText(label, cx - Math.sin(t) * (r + 8), cy - Math.cos(t) * (r + 8) + 3);
  }
  if (degrees === null || degrees === undefined) return;
  const t = (degrees * Math.PI) / 180;
  const [x, y] = [cx - Math.sin(t) * r * 0.85, cy - Math.cos(t) * r * 0.85];
  g.strokeStyle = '#1b7f4a';
  g.lineWidth = 2;
  g.beginPath();
  g.moveTo(cx, cy);
  g.lineTo(x, y);
  g.stroke();
  g.fillStyle = '#1b7f4a';
  g.beginPath();
  g.arc(x, y, 6, 0, 2 * Math.PI);
  g.fill();
}
