//! Splitting a set of cells into k contiguous, compact groups (villages of a town, beats of a
//! village): weighted k-means on cell centroids with a smooth warp so borders meander like real
//! ones, then a pass that hands every detached fragment to its neighbours.

use super::rng::Rng;
use rand::Rng as _;
use std::collections::{HashMap, VecDeque};

/// Smooth displacement field made of a few random sine waves (metres in, metres out).
#[derive(Debug, Clone)]
pub struct Warp {
    waves: Vec<[f64; 5]>,
}

impl Warp {
    pub fn new(rng: &mut Rng, amplitude_m: f64, wavelength_m: (f64, f64)) -> Self {
        let waves = (0..4)
            .map(|_| {
                let angle: f64 = rng.random_range(0.0..std::f64::consts::TAU);
                let wavelength = rng.random_range(wavelength_m.0..wavelength_m.1);
                let phase = rng.random_range(0.0..std::f64::consts::TAU);
                let ax = rng.random_range(-1.0..1.0) * amplitude_m / 2.0;
                let ay = rng.random_range(-1.0..1.0) * amplitude_m / 2.0;
                [
                    angle.cos() * std::f64::consts::TAU / wavelength,
                    angle.sin() * std::f64::consts::TAU / wavelength,
                    phase,
                    ax,
                    ay,
                ]
            })
            .collect();
        Warp { waves }
    }

    pub fn apply(&self, p: [f64; 2]) -> [f64; 2] {
        let mut out = p;
        for w in &self.waves {
            let s = (w[0] * p[0] + w[1] * p[1] + w[2]).sin();
            out[0] += w[3] * s;
            out[1] += w[4] * s;
        }
        out
    }
}

fn dist2(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

/// Assigns each point to the nearest centre, distances divided by the centre's weight.
pub fn assign(points: &[[f64; 2]], centres: &[[f64; 2]], weights: &[f64]) -> Vec<usize> {
    points
        .iter()
        .map(|p| {
            (0..centres.len())
                .min_by(|&a, &b| {
                    let da = dist2(*p, centres[a]).sqrt() / weights[a];
                    let db = dist2(*p, centres[b]).sqrt() / weights[b];
                    da.total_cmp(&db)
                })
                .unwrap_or(0)
        })
        .collect()
}

/// Weighted k-means (k-means++ start, a few Lloyd steps). `points` are warped metric centroids.
pub fn kmeans(points: &[[f64; 2]], mass: &[f64], k: usize, rng: &mut Rng) -> Vec<usize> {
    let n = points.len();
    if k <= 1 || n <= k {
        return (0..n).map(|i| if k <= 1 { 0 } else { i }).collect();
    }
    let mut centres: Vec<[f64; 2]> = Vec::with_capacity(k);
    centres.push(points[rng.random_range(0..n)]);
    let mut nearest: Vec<f64> = points.iter().map(|p| dist2(*p, centres[0])).collect();
    while centres.len() < k {
        let total: f64 = nearest.iter().zip(mass).map(|(d, m)| d * m).sum();
        let mut target = rng.random_range(0.0..1.0) * total;
        let mut pick = n - 1;
        for i in 0..n {
            target -= nearest[i] * mass[i];
            if target <= 0.0 {
                pick = i;
                break;
            }
        }
        centres.push(points[pick]);
        for i in 0..n {
            nearest[i] = nearest[i].min(dist2(points[i], points[pick]));
        }
    }
    let ones = vec![1.0; k];
    let mut labels = assign(points, &centres, &ones);
    for _ in 0..8 {
        let mut sum = vec![[0.0, 0.0, 0.0]; k];
        for i in 0..n {
            let s = &mut sum[labels[i]];
            s[0] += points[i][0] * mass[i];
            s[1] += points[i][1] * mass[i];
            s[2] += mass[i];
        }
        for (c, s) in centres.iter_mut().zip(&sum) {
            if s[2] > 0.0 {
                *c = [s[0] / s[2], s[1] / s[2]];
            }
        }
        labels = assign(points, &centres, &ones);
    }
    // Every label must keep at least one member.
    let mut count = vec![0usize; k];
    for &l in &labels {
        count[l] += 1;
    }
    for label in 0..k {
        if count[label] == 0 {
            let donor = (0..n).filter(|&i| count[labels[i]] > 1).min_by(|&a, &b| {
                dist2(points[a], centres[label]).total_cmp(&dist2(points[b], centres[label]))
            });
            if let Some(i) = donor {
                count[labels[i]] -= 1;
                labels[i] = label;
                count[label] += 1;
            }
        }
    }
    labels
}

/// Makes every label's members connected: of each label's connected pieces the largest stays,
/// the others go, cell by cell from their edge inwards, to the label most of their neighbours
/// have. `neighbours[i]` lists the members adjacent to member i (indexes into `labels`).
pub fn make_contiguous(labels: &mut [usize], neighbours: &[Vec<usize>]) {
    for _round in 0..20 {
        let n = labels.len();
        let mut component = vec![usize::MAX; n];
        let mut sizes: Vec<usize> = Vec::new();
        let mut owner: Vec<usize> = Vec::new();
        for start in 0..n {
            if component[start] != usize::MAX {
                continue;
            }
            let id = sizes.len();
            let mut size = 0;
            let mut queue = VecDeque::from([start]);
            component[start] = id;
            while let Some(i) = queue.pop_front() {
                size += 1;
                for &j in &neighbours[i] {
                    if component[j] == usize::MAX && labels[j] == labels[start] {
                        component[j] = id;
                        queue.push_back(j);
                    }
                }
            }
            sizes.push(size);
            owner.push(labels[start]);
        }
        let mut best: HashMap<usize, usize> = HashMap::new();
        for (id, &label) in owner.iter().enumerate() {
            let keep = best.entry(label).or_insert(id);
            if sizes[id] > sizes[*keep] {
                *keep = id;
            }
        }
        let mut changed = false;
        for i in 0..n {
            if best[&labels[i]] == component[i] {
                continue;
            }
            let mut votes: HashMap<usize, usize> = HashMap::new();
            for &j in &neighbours[i] {
                if labels[j] != labels[i] {
                    *votes.entry(labels[j]).or_insert(0) += 1;
                }
            }
            if let Some((&label, _)) = votes.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))) {
                labels[i] = label;
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detached_fragment_joins_its_neighbours() {
        // A path of 5 members: labels 0 0 1 0 0 → the middle 1 is alone and the right-hand 0s
        // are a second piece of label 0; 1 must survive (largest piece of label 1 is itself).
        let mut labels = vec![0, 0, 1, 1, 0];
        let neighbours = vec![vec![1], vec![0, 2], vec![1, 3], vec![2, 4], vec![3]];
        make_contiguous(&mut labels, &neighbours);
        assert_eq!(labels, vec![0, 0, 1, 1, 1]);
    }
}
