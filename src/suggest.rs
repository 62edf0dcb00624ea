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

/// Levenshtein distance over chars.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
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
        assert_eq!(nearest("vcp", ["vpc", "dns"]), vec!["vpc"]);
    }

    #[test]
    fn distance_basics() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("same", "same"), 0);
    }
}
