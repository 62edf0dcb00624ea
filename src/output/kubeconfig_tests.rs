use super::*;

fn entry(context: Option<&str>) -> Entry {
    let arn = "arn:aws:eks:us-east-2:111111111111:cluster/dev";
    Entry {
        cluster: arn.into(),
        context: context.unwrap_or(arn).into(),
        user: "atmos-eks-dev-us-east-2".into(),
        server: "https://ABC.gr7.us-east-2.eks.amazonaws.com".into(),
        ca_data: "LS0tLS1CRUdJTg==".into(),
        command: "/opt/bin/tfauth".into(),
        args: ["aws", "eks", "token", "--cluster-name", "dev", "--region", "us-east-2", "--identity", "plat/admin"]
            .map(String::from)
            .to_vec(),
        env: vec![("ATMOS_IDENTITY".into(), "plat/admin".into())],
    }
}

/// The parsed document, for checks on structure.
fn json(text: &str) -> serde_json::Value {
    let ctx = crate::yaml::LoadContext::default();
    let node = crate::yaml::Loader::new(&ctx).load_str(text, Path::new("k")).unwrap();
    crate::yaml::emit::to_json(&node)
}

fn named<'a>(doc: &'a serde_json::Value, key: &str, name: &str) -> &'a serde_json::Value {
    doc[key].as_array().unwrap().iter().find(|i| i["name"] == name).unwrap_or_else(|| panic!("{key}/{name}"))
}

const USERS_OWN: &str = "\
# my clusters
apiVersion: v1
clusters:
- cluster:
    server: https://kind.local:6443   # kind
  name: kind-kind
contexts:
- context:
    cluster: kind-kind
    user: kind-kind
  name: kind-kind

current-context: kind-kind
kind: Config
preferences: {}
users:
- name: kind-kind
  user:
    client-certificate-data: AAAA
";

#[test]
fn a_new_kubeconfig_holds_the_cluster_and_its_exec_plugin() {
    let m = merge(None, &entry(Some("dev")), KubeconfigUpdate::Merge).unwrap();
    assert!(!m.reformatted);
    let doc = json(&m.text);
    assert_eq!(doc["apiVersion"], "v1");
    assert_eq!(doc["kind"], "Config");
    assert_eq!(doc["current-context"], "dev");
    let arn = "arn:aws:eks:us-east-2:111111111111:cluster/dev";
    assert_eq!(named(&doc, "clusters", arn)["cluster"]["server"], "https://ABC.gr7.us-east-2.eks.amazonaws.com");
    assert_eq!(
        named(&doc, "contexts", "dev")["context"],
        serde_json::json!({"cluster": arn, "user": "atmos-eks-dev-us-east-2"})
    );
    let exec = &named(&doc, "users", "atmos-eks-dev-us-east-2")["user"]["exec"];
    assert_eq!(exec["apiVersion"], EXEC_API_VERSION);
    assert_eq!(exec["command"], "/opt/bin/tfauth");
    assert_eq!(exec["args"][8], "plat/admin");
    assert_eq!(exec["interactiveMode"], "Never");
    assert_eq!(exec["env"][0], serde_json::json!({"name": "ATMOS_IDENTITY", "value": "plat/admin"}));
}

#[test]
fn merging_keeps_every_other_line_byte_for_byte() {
    let m = merge(Some(USERS_OWN), &entry(None), KubeconfigUpdate::Merge).unwrap();
    assert!(!m.reformatted, "{}", m.text);
    // Every line of the user's file is still there, in order, except current-context.
    let kept: Vec<&str> = USERS_OWN.lines().filter(|l| !l.starts_with("current-context")).collect();
    let mut at = m.text.lines();
    for line in &kept {
        assert!(at.any(|l| l == *line), "lost or moved {line:?} in\n{}", m.text);
    }
    let doc = json(&m.text);
    assert_eq!(doc["clusters"].as_array().unwrap().len(), 2);
    assert_eq!(doc["users"].as_array().unwrap().len(), 2);
    assert_eq!(named(&doc, "users", "kind-kind")["user"]["client-certificate-data"], "AAAA");
    assert_eq!(doc["current-context"], "arn:aws:eks:us-east-2:111111111111:cluster/dev");
    // Merging again replaces the entries in place: same text.
    let again = merge(Some(&m.text), &entry(None), KubeconfigUpdate::Merge).unwrap();
    assert_eq!(again.text, m.text);
    // A changed endpoint replaces only that cluster's lines.
    let mut moved = entry(None);
    moved.server = "https://XYZ.gr7.us-east-2.eks.amazonaws.com".into();
    let third = merge(Some(&m.text), &moved, KubeconfigUpdate::Merge).unwrap();
    let doc = json(&third.text);
    assert_eq!(doc["clusters"].as_array().unwrap().len(), 2);
    assert_eq!(
        named(&doc, "clusters", &moved.cluster)["cluster"]["server"],
        "https://XYZ.gr7.us-east-2.eks.amazonaws.com"
    );
    assert_eq!(third.text.lines().count(), m.text.lines().count());
}

#[test]
fn indented_lists_missing_keys_and_files_without_a_newline_are_spliced_too() {
    let indented = "apiVersion: v1\nkind: Config\nclusters:\n  - name: other\n    cluster:\n      server: https://o\nusers: []\n# end";
    let m = merge(Some(indented), &entry(Some("dev")), KubeconfigUpdate::Merge).unwrap();
    assert!(!m.reformatted, "{}", m.text);
    assert!(m.text.starts_with("apiVersion: v1\nkind: Config\nclusters:\n  - name: other\n    cluster:\n      server: https://o\n  - cluster:\n"), "{}", m.text);
    assert!(m.text.contains("# end\n"), "{}", m.text);
    let doc = json(&m.text);
    assert_eq!(doc["clusters"][0]["name"], "other");
    assert_eq!(doc["users"][0]["name"], "atmos-eks-dev-us-east-2");
    assert_eq!(doc["contexts"][0]["name"], "dev");
    assert_eq!(doc["current-context"], "dev");
    // Only comments: they stay, the kubeconfig follows.
    let m = merge(Some("# nothing yet\n"), &entry(None), KubeconfigUpdate::Merge).unwrap();
    assert!(m.text.starts_with("# nothing yet\napiVersion: v1\n"), "{}", m.text);
}

#[test]
fn flow_style_files_are_rewritten_from_their_contents_and_say_so() {
    let flow = "{apiVersion: v1, kind: Config, clusters: [{name: a, cluster: {server: 'https://a'}}], users: [], contexts: []}";
    let m = merge(Some(flow), &entry(None), KubeconfigUpdate::Merge).unwrap();
    assert!(m.reformatted);
    let doc = json(&m.text);
    assert_eq!(doc["clusters"].as_array().unwrap().len(), 2);
    assert_eq!(doc["clusters"][0]["cluster"]["server"], "https://a");
}

#[test]
fn replace_writes_only_the_cluster_and_error_refuses_collisions() {
    let m = merge(Some(USERS_OWN), &entry(None), KubeconfigUpdate::Replace).unwrap();
    let doc = json(&m.text);
    assert_eq!(doc["clusters"].as_array().unwrap().len(), 1);
    assert!(!m.text.contains("kind-kind"));
    let merged = merge(Some(USERS_OWN), &entry(Some("kind-kind")), KubeconfigUpdate::Error).unwrap_err();
    assert_eq!(merged, KubeconfigError::Exists { what: "context", name: "kind-kind".into() });
    let once = merge(Some(USERS_OWN), &entry(None), KubeconfigUpdate::Error).unwrap();
    let twice = merge(Some(&once.text), &entry(None), KubeconfigUpdate::Error).unwrap_err();
    assert!(matches!(twice, KubeconfigError::Exists { what: "cluster", .. }));
}

#[test]
fn what_is_not_a_kubeconfig_is_refused() {
    for (text, want) in [
        ("clusters: [unclosed\n", "not valid YAML"),
        ("- a\n- b\n", "top level is not a mapping"),
        ("clusters: 3\n", "`clusters` is not a list"),
        ("clusters:\n- just-a-string\n", "an item of `clusters` is not a mapping"),
        ("a: 1\n---\nb: 2\n", "more than one YAML document"),
    ] {
        let e = merge(Some(text), &entry(None), KubeconfigUpdate::Merge).unwrap_err();
        assert!(e.to_string().contains(want), "{text:?}: {e}");
        let e = merge(Some(text), &entry(None), KubeconfigUpdate::Replace);
        if want == "not valid YAML" {
            assert!(e.is_err(), "replace must not overwrite what is not YAML");
        }
    }
}

#[test]
fn values_are_emitted_never_pasted() {
    let mut e = entry(Some("dev: {evil: true}\n- x"));
    e.args.push("--x=\"'#".into());
    let m = merge(Some(USERS_OWN), &e, KubeconfigUpdate::Merge).unwrap();
    let doc = json(&m.text);
    assert_eq!(doc["current-context"], "dev: {evil: true}\n- x");
    assert_eq!(named(&doc, "users", "atmos-eks-dev-us-east-2")["user"]["exec"]["args"][9], "--x=\"'#");
}

#[test]
fn the_file_is_written_private_and_a_directory_or_a_strangers_file_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let env = Env::from_pairs([("XDG_CACHE_HOME", dir.path().join("cache").to_str().unwrap())]);
    let path = dir.path().join("kube").join("config");
    assert_eq!(
        write(&path, &entry(None), KubeconfigUpdate::Merge, 0o644, &env).unwrap(),
        Written::Changed { reformatted: false }
    );
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(write(&path, &entry(None), KubeconfigUpdate::Merge, 0o600, &env).unwrap(), Written::Unchanged);
    let e = write(dir.path(), &entry(None), KubeconfigUpdate::Merge, 0o600, &env).unwrap_err();
    assert!(matches!(e, KubeconfigWriteError::NotAFile { kind: "a directory", .. }), "{e}");
    assert_eq!(e.exit_code(), crate::exit::CANTCREAT);
    let bad = dir.path().join("bad");
    std::fs::write(&bad, "clusters: [\n").unwrap();
    let e = write(&bad, &entry(None), KubeconfigUpdate::Merge, 0o600, &env).unwrap_err();
    assert_eq!(e.exit_code(), crate::exit::DATAERR);
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), "clusters: [\n", "left unchanged");
    let open = dir.path().join("open");
    std::fs::write(&open, USERS_OWN).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).unwrap();
    let e = write(&open, &entry(None), KubeconfigUpdate::Merge, 0o600, &env).unwrap_err();
    assert_eq!(e.exit_code(), crate::exit::IOERR, "{e}");
    assert_eq!(std::fs::read_to_string(&open).unwrap(), USERS_OWN);
}

#[test]
fn logout_removes_just_the_three_entries_and_the_current_context_it_named() {
    let e = entry(Some("dev"));
    let merged = merge(Some(USERS_OWN), &e, KubeconfigUpdate::Merge).unwrap().text;
    assert!(cluster_names(&merged).contains(&e.cluster));
    assert!(cluster_names("clusters: [").is_empty());
    let back = without(&merged, &e.cluster, &e.context, &e.user).expect("they were there");
    let expected = USERS_OWN.replace("current-context: kind-kind\n", "current-context: \"\"\n");
    assert_eq!(back, expected, "every line of the user's own entries is as it was");
    assert_eq!(without(&back, &e.cluster, &e.context, &e.user), None, "nothing left to remove");
    // Another current context stays.
    let mut other = merged.clone();
    other = other.replace("current-context: dev", "current-context: kind-kind");
    let back = without(&other, &e.cluster, &e.context, &e.user).unwrap();
    assert_eq!(back, USERS_OWN);
}

#[test]
fn the_empty_kubeconfig_is_one_kubectl_reads_and_takes_entries() {
    let doc = json(&empty());
    assert_eq!((doc["apiVersion"].as_str(), doc["kind"].as_str()), (Some("v1"), Some("Config")));
    assert_eq!(doc["clusters"], serde_json::json!([]));
    let m = merge(Some(&empty()), &entry(None), KubeconfigUpdate::Merge).unwrap();
    assert!(!m.reformatted, "{}", m.text);
    assert_eq!(json(&m.text)["clusters"].as_array().unwrap().len(), 1);
}

#[test]
fn comments_between_entries_stay_with_what_follows() {
    let e = entry(None);
    let text = format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    server: https://old\n  name: {}\n\n# the kind cluster, keep\n- cluster:\n    server: https://kind\n  name: kind\nusers: []\ncontexts: []\n",
        e.cluster
    );
    let m = merge(Some(&text), &e, KubeconfigUpdate::Merge).unwrap();
    assert!(m.text.contains("\n\n# the kind cluster, keep\n- cluster:\n    server: https://kind\n"), "{}", m.text);
    assert!(!m.text.contains("https://old"), "{}", m.text);
    let back = without(&m.text, &e.cluster, &e.context, &e.user).unwrap();
    assert!(back.contains("\n\n# the kind cluster, keep\n- cluster:\n    server: https://kind\n"), "{back}");
}
