//! Certificate policies processed as RFC 5280 §6.1 says: the valid policy tree grown
//! certificate by certificate from the one under the trust anchor to the signer
//! (§6.1.3 (d)–(f)), policy mappings and the constraints on them (§6.1.4 (a)–(b),
//! (h)–(j)), and the wrap-up against the policies the verifier accepts (§6.1.5).
//!
//! The tree is kept level by level, a node's parent by its index in the level above, and
//! nodes are removed by marking them (prunes never reuse an index), so that the parent
//! links stay valid without reallocation.

use std::collections::BTreeSet;

use crate::cert::Certificate;

/// `anyPolicy` (RFC 5280 §4.2.1.4).
pub(crate) const ANY_POLICY: &str = "2.5.29.32.0";

/// The policy inputs of path validation (RFC 5280 §6.1.1 (c), (e)–(g)). The default
/// accepts any policy and requires none, as RFC 5280's defaults do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicySettings {
    /// The policies the verifier accepts (`user-initial-policy-set`, dotted OIDs); empty
    /// means `anyPolicy`. A registry that accepts only the IOFE's policies for clinical
    /// acts names them here.
    pub acceptable: Vec<String>,
    /// Whether the path must be valid for at least one acceptable policy
    /// (`initial-explicit-policy`).
    pub require_explicit: bool,
    /// Whether policy mapping is forbidden (`initial-policy-mapping-inhibit`).
    pub inhibit_mapping: bool,
    /// Whether `anyPolicy` in a certificate counts for nothing (`initial-any-policy-inhibit`).
    pub inhibit_any: bool,
}

/// What a certificate says about policies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Policies {
    /// `certificatePolicies`: the policy identifiers, when the extension is present.
    pub(crate) asserted: Option<Vec<String>>,
    /// `policyMappings`: (issuerDomainPolicy, subjectDomainPolicy) pairs.
    pub(crate) mappings: Vec<(String, String)>,
    /// `policyConstraints`: requireExplicitPolicy.
    pub(crate) require_explicit: Option<u32>,
    /// `policyConstraints`: inhibitPolicyMapping.
    pub(crate) inhibit_mapping: Option<u32>,
    /// `inhibitAnyPolicy`: skipCerts.
    pub(crate) inhibit_any: Option<u32>,
}

/// Why no policy is valid for a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NoValidPolicy {
    /// The certificate at which the path stopped being valid for any policy.
    pub(crate) subject: String,
    /// Whether processing stopped because the tree grew past [`MAX_NODES`].
    pub(crate) too_large: bool,
}

/// The most nodes a valid policy tree may have: policy mappings can make it grow
/// exponentially with the path, and real paths need a few dozen.
const MAX_NODES: usize = 1024;

#[derive(Debug, Clone)]
struct Node {
    policy: String,
    expected: BTreeSet<String>,
    parent: usize,
    alive: bool,
}

/// The valid policy tree (§6.1.2 (a)); `None` once it is NULL.
struct Tree {
    levels: Vec<Vec<Node>>,
}

impl Tree {
    fn new() -> Self {
        Self {
            levels: vec![vec![Node {
                policy: ANY_POLICY.to_owned(),
                expected: BTreeSet::from([ANY_POLICY.to_owned()]),
                parent: 0,
                alive: true,
            }]],
        }
    }

    fn alive(&self, depth: usize) -> impl Iterator<Item = (usize, &Node)> {
        self.levels
            .get(depth)
            .into_iter()
            .flatten()
            .enumerate()
            .filter(|(_, node)| node.alive)
    }

    fn push(&mut self, depth: usize, parent: usize, policy: &str, expected: BTreeSet<String>) {
        if self.levels.len() <= depth {
            self.levels.resize_with(depth + 1, Vec::new);
        }
        self.levels[depth].push(Node {
            policy: policy.to_owned(),
            expected,
            parent,
            alive: true,
        });
    }

    /// Removes, from `deepest - 1` up, every node left without a child (§6.1.3 (d)(3)).
    fn prune(&mut self, deepest: usize) {
        for depth in (0..deepest).rev() {
            let parents: BTreeSet<usize> = self.alive(depth + 1).map(|(_, n)| n.parent).collect();
            for (index, node) in self.levels[depth].iter_mut().enumerate() {
                if node.alive && !parents.contains(&index) {
                    node.alive = false;
                }
            }
        }
    }

    fn is_null(&self) -> bool {
        !self.levels[0][0].alive
    }

    /// The valid policy node set (§6.1.5 (g)(iii)(1)): the live nodes whose parent is a
    /// live `anyPolicy` node, as (depth, index).
    fn node_set(&self) -> Vec<(usize, usize)> {
        let mut set = Vec::new();
        for depth in 1..self.levels.len() {
            for (index, node) in self.alive(depth) {
                let parent = &self.levels[depth - 1][node.parent];
                if parent.alive && parent.policy == ANY_POLICY {
                    set.push((depth, index));
                }
            }
        }
        set
    }

    /// Removes the nodes whose parent was removed (deleting a node deletes its subtree).
    fn kill_orphans(&mut self) {
        for depth in 1..self.levels.len() {
            let (above, below) = self.levels.split_at_mut(depth);
            let parents = &above[depth - 1];
            for node in &mut below[0] {
                if node.alive && !parents[node.parent].alive {
                    node.alive = false;
                }
            }
        }
    }

    /// How many nodes were made.
    fn size(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }
}

/// Processes the policies of `path` (the signer first, the trust anchor last, which takes
/// no part: RFC 5280 counts from the certificate it issued). `Ok` gives the policies the
/// path is valid for (empty when none is required and none is valid), `Err` the
/// certificate at which it stopped being valid for any while one was required.
pub(crate) fn process(
    path: &[Certificate],
    settings: &PolicySettings,
) -> Result<BTreeSet<String>, NoValidPolicy> {
    let certs: Vec<&Certificate> = path.iter().rev().skip(1).collect();
    let n = certs.len();
    if n == 0 {
        // The signer is itself an anchor: no CA asserted anything for it.
        return if settings.require_explicit {
            Err(NoValidPolicy {
                subject: path
                    .first()
                    .map(|cert| cert.subject().to_owned())
                    .unwrap_or_default(),
                too_large: false,
            })
        } else {
            Ok(BTreeSet::new())
        };
    }
    let start = |inhibited: bool| if inhibited { 0 } else { n + 1 };
    let mut explicit = start(settings.require_explicit);
    let mut any_allowed = start(settings.inhibit_any);
    let mut mapping = start(settings.inhibit_mapping);
    let mut tree = Some(Tree::new());
    for (position, cert) in certs.iter().enumerate() {
        let depth = position + 1;
        let last = depth == n;
        let self_issued = cert.is_self_issued();
        let policies = cert.policies();
        match (&mut tree, &policies.asserted) {
            (Some(valid), Some(listed)) => {
                grow(
                    valid,
                    depth,
                    listed,
                    any_allowed > 0 || (!last && self_issued),
                );
                valid.prune(depth);
                if valid.is_null() {
                    tree = None;
                }
            }
            (Some(_), None) => tree = None,
            (None, _) => {}
        }
        if explicit == 0 && tree.is_none() {
            return Err(NoValidPolicy {
                subject: cert.subject().to_owned(),
                too_large: false,
            });
        }
        if last {
            explicit = explicit.saturating_sub(1);
            if policies.require_explicit == Some(0) {
                explicit = 0;
            }
            break;
        }
        // Preparation for the next certificate (§6.1.4).
        if let Some(valid) = &mut tree {
            map(valid, depth, &policies.mappings, mapping > 0);
            if valid.size() > MAX_NODES {
                return Err(NoValidPolicy {
                    subject: cert.subject().to_owned(),
                    too_large: true,
                });
            }
            if valid.is_null() {
                tree = None;
            }
        }
        if !self_issued {
            explicit = explicit.saturating_sub(1);
            mapping = mapping.saturating_sub(1);
            any_allowed = any_allowed.saturating_sub(1);
        }
        let lower = |current: &mut usize, constraint: Option<u32>| {
            if let Some(value) = constraint.map(|value| value as usize)
                && value < *current
            {
                *current = value;
            }
        };
        lower(&mut explicit, policies.require_explicit);
        lower(&mut mapping, policies.inhibit_mapping);
        lower(&mut any_allowed, policies.inhibit_any);
    }
    let valid = wrap_up(tree, n, &settings.acceptable);
    if explicit == 0 && valid.is_empty() {
        return Err(NoValidPolicy {
            subject: certs[n - 1].subject().to_owned(),
            too_large: false,
        });
    }
    Ok(valid)
}

/// §6.1.3 (d)(1)–(2): the certificate's policies under the nodes that expect them.
fn grow(tree: &mut Tree, depth: usize, listed: &[String], any_counts: bool) {
    let parents: Vec<(usize, Node)> = tree
        .alive(depth - 1)
        .map(|(index, node)| (index, node.clone()))
        .collect();
    for policy in listed.iter().filter(|policy| *policy != ANY_POLICY) {
        let matching: Vec<usize> = parents
            .iter()
            .filter(|(_, node)| node.expected.contains(policy))
            .map(|(index, _)| *index)
            .collect();
        if matching.is_empty() {
            if let Some((index, _)) = parents.iter().find(|(_, node)| node.policy == ANY_POLICY) {
                tree.push(depth, *index, policy, BTreeSet::from([policy.clone()]));
            }
        } else {
            for index in matching {
                tree.push(depth, index, policy, BTreeSet::from([policy.clone()]));
            }
        }
    }
    if any_counts && listed.iter().any(|policy| policy == ANY_POLICY) {
        for (index, parent) in &parents {
            for expected in &parent.expected {
                let present = tree
                    .alive(depth)
                    .any(|(_, child)| child.parent == *index && child.policy == *expected);
                if !present {
                    tree.push(depth, *index, expected, BTreeSet::from([expected.clone()]));
                }
            }
        }
    }
}

/// §6.1.4 (b): policy mappings rewrite what the next certificate is expected to assert,
/// or, with mapping inhibited, remove the mapped policies.
fn map(tree: &mut Tree, depth: usize, mappings: &[(String, String)], allowed: bool) {
    let issuer_policies: BTreeSet<&String> = mappings.iter().map(|(from, _)| from).collect();
    for from in issuer_policies {
        let targets: BTreeSet<String> = mappings
            .iter()
            .filter(|(issuer, _)| issuer == from)
            .map(|(_, subject)| subject.clone())
            .collect();
        if allowed {
            let mut found = false;
            if let Some(level) = tree.levels.get_mut(depth) {
                for node in level
                    .iter_mut()
                    .filter(|node| node.alive && node.policy == *from)
                {
                    node.expected.clone_from(&targets);
                    found = true;
                }
            }
            if !found {
                let any = tree
                    .alive(depth)
                    .find(|(_, node)| node.policy == ANY_POLICY)
                    .map(|(_, node)| node.parent);
                if let Some(parent) = any {
                    tree.push(depth, parent, from, targets);
                }
            }
        } else if let Some(level) = tree.levels.get_mut(depth) {
            for node in level.iter_mut().filter(|node| node.policy == *from) {
                node.alive = false;
            }
            tree.prune(depth);
        }
    }
}

/// §6.1.5 (g): the tree intersected with the acceptable policies; the policies the path
/// is valid for (those of the valid policy node set, `anyPolicy` included when it reaches
/// the signer).
fn wrap_up(tree: Option<Tree>, n: usize, acceptable: &[String]) -> BTreeSet<String> {
    let Some(mut tree) = tree else {
        return BTreeSet::new();
    };
    if !(acceptable.is_empty() || acceptable.iter().any(|policy| policy == ANY_POLICY)) {
        let acceptable: BTreeSet<&String> = acceptable.iter().collect();
        // (2): nodes under anyPolicy with a policy not acceptable go, with their subtrees.
        for (depth, index) in tree.node_set() {
            let node = &mut tree.levels[depth][index];
            if node.policy != ANY_POLICY && !acceptable.contains(&node.policy) {
                node.alive = false;
            }
        }
        tree.kill_orphans();
        // (3): the anyPolicy leaf stands for every acceptable policy not named otherwise.
        let leaf_any = tree
            .alive(n)
            .find(|(_, node)| node.policy == ANY_POLICY)
            .map(|(index, node)| (index, node.parent));
        if let Some((index, parent)) = leaf_any {
            let named: BTreeSet<String> = tree
                .node_set()
                .into_iter()
                .map(|(depth, index)| tree.levels[depth][index].policy.clone())
                .collect();
            for policy in acceptable {
                if !named.contains(policy) {
                    tree.push(n, parent, policy, BTreeSet::from([policy.clone()]));
                }
            }
            tree.levels[n][index].alive = false;
        }
        // (4)
        tree.prune(n);
        if tree.is_null() {
            return BTreeSet::new();
        }
    }
    tree.node_set()
        .into_iter()
        .map(|(depth, index)| tree.levels[depth][index].policy.clone())
        .collect()
}
