//! "Did you mean" suggestions for names a user typed (stacks, components, identities).
//! Pure string distance; no I/O.

/// Up to three candidates close to `wanted`: by edit distance (case-insensitive), or
/// containing it, nearest first.
pub fn nearest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let w = wanted.to_lowercase();
    let limit = (w.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter_map(|c| {
            let lc = c.to_lowercase();
            let d = distance(&w, &lc);
            if d <= limit {
                Some((d, c))
            } else if !w.is_empty() && (lc.contains(&w) || w.contains(&lc)) && lc.len() > 1 {
                Some((limit + 1, c))
            } else {
                None
            }
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(3).map(|(_, c)| c.to_string()).collect()
}

/// The hint for a `name` nothing defines among `candidates` (the defined `what`, plural):
/// the nearest, else every defined name, else that there are none.
pub fn hint<'a>(name: &str, candidates: impl Iterator<Item = &'a str> + Clone, what: &str) -> String {
    let near = nearest(name, candidates.clone());
    if let Some(n) = near.first() {
        format!("did you mean `{n}`?")
    } else {
        let all: Vec<&str> = candidates.collect();
        if all.is_empty() {
            format!("no {what} are defined; check the active profile")
        } else {
            format!("defined {what}: {}", all.join(", "))
        }
    }
}

/// Edit distance over chars where swapping two neighbours counts as one edit
/// (optimal string alignment), since `vcp` for `vpc` is the commonest typo.
pub fn distance(a: &str, b: &str) -> usize {
    edit_distance(a, b, true)
}

/// Edit distance over chars: insertions, deletions and substitutions count one each
/// (Levenshtein), and with `swaps` so does exchanging two neighbours (optimal string
/// alignment; `vcp` is 1 from `vpc`, not 2). Case-sensitive: fold case first if wanted.
/// The one edit distance of the crate: name suggestions, template function names.
pub fn edit_distance(a: &str, b: &str, swaps: bool) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if swaps && i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_first() {
        let c = ["plat-use2-dev", "plat-use2-prod", "core-use2-dev", "plat-usw2-dev"];
        assert_eq!(nearest("plat-use2-deb", c)[0], "plat-use2-dev");
        assert_eq!(nearest("PLAT-USE2-DEV", c)[0], "plat-use2-dev");
        assert!(nearest("zzzzzzzz", c).is_empty());
        assert_eq!(nearest("vcp", ["app", "vpc", "dns"])[0], "vpc");
    }

    #[test]
    fn distance_basics() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("same", "same"), 0);
        assert_eq!(distance("vcp", "vpc"), 1);
        assert_eq!(edit_distance("vcp", "vpc", false), 2);
        assert_eq!(edit_distance("kitten", "sitting", false), 3);
        assert_eq!(edit_distance("lenght", "length", false), 2);
        assert_eq!(edit_distance("lenght", "length", true), 1);
        assert_eq!(edit_distance("héllo", "hello", false), 1);
    }
}
