//! Terraform for the tests, offline: the `terraform` binary (PATH or `$TERRAFORM`) and the AWS provider from a
//! filesystem mirror of the registry found at run time (`$TF_PROVIDER_MIRROR`, else the usual places, else a
//! search for `registry.terraform.io/hashicorp/aws`). A CLI config naming the mirror is written to a temp
//! dir and passed as `TF_CLI_CONFIG_FILE`; nothing is downloaded.
//!
//! A missing terraform or provider mirror fails the test with an install hint; it never skips.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const INSTALL_HINT: &str = "install terraform (>= 1.5, https://developer.hashicorp.com/terraform/install) and \
     put the hashicorp/aws provider in a filesystem mirror (`terraform providers mirror /opt/tf-plugins` in \
     terraform-example/production on a machine with network), or point $TF_PROVIDER_MIRROR at one";

/// A terraform binary plus an offline CLI configuration.
pub struct Terraform {
    program: PathBuf,
    cli_config: PathBuf,
    _dir: tempfile::TempDir,
}

/// Directories that commonly hold a registry mirror (the one containing `registry.terraform.io/`).
const MIRROR_CANDIDATES: &[&str] = &[
    "/opt/tf-plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
    "/root/.terraform.d/plugins",
];

fn has_aws_provider(mirror: &Path) -> bool {
    mirror.join("registry.terraform.io/hashicorp/aws").is_dir()
}

/// The mirror root: `$TF_PROVIDER_MIRROR`, a known place, or `find / … -path '*registry.terraform.io*'`.
fn find_mirror() -> PathBuf {
    if let Some(dir) = std::env::var_os("TF_PROVIDER_MIRROR") {
        let dir = PathBuf::from(dir);
        assert!(
            has_aws_provider(&dir),
            "$TF_PROVIDER_MIRROR={} has no registry.terraform.io/hashicorp/aws; {INSTALL_HINT}",
            dir.display()
        );
        return dir;
    }
    if let Some(dir) = MIRROR_CANDIDATES.iter().map(PathBuf::from).find(|d| has_aws_provider(d)) {
        return dir;
    }
    let out = Command::new("find")
        .args(["/", "-xdev", "-name", "terraform-provider-aws*", "-path", "*registry.terraform.io*"])
        .output()
        .expect("run find");
    let text = String::from_utf8_lossy(&out.stdout);
    let hit = text.lines().next().unwrap_or_else(|| panic!("no AWS provider mirror found; {INSTALL_HINT}"));
    let at = hit.find("/registry.terraform.io/").expect("find matched the path pattern");
    PathBuf::from(&hit[..at])
}

impl Terraform {
    /// Finds terraform and the provider mirror, and writes the CLI config.
    #[expect(clippy::new_without_default, reason = "new() searches the machine and panics with an install hint")]
    pub fn new() -> Terraform {
        let program = std::env::var_os("TERRAFORM").map(PathBuf::from).unwrap_or_else(|| "terraform".into());
        match Command::new(&program).arg("version").output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "`{} version` failed: {}; {INSTALL_HINT}",
                program.display(),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(err) => panic!("{} not runnable ({err}); {INSTALL_HINT}", program.display()),
        }
        let mirror = find_mirror();
        let dir = tempfile::tempdir().expect("temp dir for the CLI config");
        let cli_config = dir.path().join("terraformrc");
        std::fs::write(
            &cli_config,
            format!(
                "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = \
                    [\"registry.terraform.io/hashicorp/aws\"]\n  }}\n  direct {{\n    exclude = \
                        [\"registry.terraform.io/hashicorp/aws\"]\n  }}\n}}\n",
                mirror.display()
            ),
        )
        .expect("write CLI config");
        Terraform { program, cli_config, _dir: dir }
    }

    /// Runs `terraform <args>` in `dir`; panics with its output unless it succeeds. Returns stdout.
    pub fn run(&self, dir: &Path, args: &[&str]) -> String {
        let out = Command::new(&self.program)
            .args(args)
            .current_dir(dir)
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .expect("run terraform");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "terraform {} in {} failed ({}):\n{stdout}\n{}",
            args.join(" "),
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

/// Copies a directory tree (without hidden entries such as `.terraform/`) so terraform's working files
/// land in a temp dir, not in the source tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy file");
        }
    }
}
