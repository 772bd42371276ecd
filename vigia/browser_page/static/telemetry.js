// Opt-in telemetry: counts of the page's predictions on the model's training bins (the
// same report as the device runner's, vigia/telemetry.py), never an input value.
"use strict";

const CONFIDENCE_BUCKETS = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0];

class Aggregates {
  constructor(manifest) {
    this.manifest = manifest;
    this.reset();
  }

  reset() {
    const m = this.manifest;
    this.predictions = 0;
    this.classes = Object.fromEntries(m.classes.map((c) => [c, 0]));
    this.buckets = new Array(CONFIDENCE_BUCKETS.length + 1).fill(0);
    this.sum = 0;
    this.features = {};
    for (const [name, bins] of Object.entries(m.bins || {})) {
      this.features[name] = { bins: {}, missing: 0, out_of_range: 0 };
      for (const label of binLabels(bins)) this.features[name].bins[label] = 0;
    }
  }

  // rows: checked rows ({feature: value|null}); predictions: {class, probabilities}.
  observe(rows, predictions) {
    predictions.forEach((p) => {
      const confidence = Math.max(...p.probabilities);
      let slot = CONFIDENCE_BUCKETS.findIndex((bound) => confidence <= bound);
      if (slot < 0) slot = CONFIDENCE_BUCKETS.length;
      this.predictions += 1;
      this.classes[p.class] += 1;
      this.buckets[slot] += 1;
      this.sum += confidence;
    });
    for (const [name, bins] of Object.entries(this.manifest.bins || {})) {
      const counts = this.features[name];
      for (const row of rows) {
        const label = binOf(bins, row[name]);
        if (label === null) counts.missing += 1;
        else counts.bins[label] += 1;
        if (outside(bins, row[name])) counts.out_of_range += 1;
      }
    }
  }

  takeReport(source) {
    const m = this.manifest;
    const report = {
      model: m.name, version: m.version, source, predictions: this.predictions,
      classes: this.classes, confidence: { buckets: this.buckets, sum: this.sum },
      features: this.features,
    };
    this.reset();
    return report;
  }
}

function binLabels(bins) {
  if (bins.categories) return bins.categories;
  return Array.from({ length: bins.edges.length + 1 }, (_, i) => String(i));
}

// The bin of one value: numeric, the number of edges at or below it; categorical, itself.
function binOf(bins, value) {
  if (value === null || value === undefined) return null;
  if (bins.categories) return bins.categories.includes(value) ? value : null;
  return String(bins.edges.filter((edge) => edge <= value).length);
}

function outside(bins, value) {
  if (bins.categories || value === null || bins.minimum === null || bins.maximum === null) {
    return false;
  }
  return value < bins.minimum || value > bins.maximum;
}

async function sendReport(url, report) {
  const answer = await fetch(url, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(report),
  });
  if (!answer.ok) throw new Error(`telemetry refused: ${answer.status}`);
}
