//! The installed documentation, generated from the code so it cannot drift: `pointsman(1)`
//! from the clap definitions (clap_mangen), `pointsman.cfg(5)` from docs/config.md (the
//! config subset, whose tables tests/docs_in_step.rs holds against the parser), and bash and
//! zsh completions (clap_complete). `pointsman generate-manuals DIR` (hidden) writes them;
//! scripts/build-deb.sh puts them in the package.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The config reference the man page is made from.
const CONFIG_DOC: &str = include_str!("../docs/config.md");

/// Writes `man/pointsman.1`, `man/pointsman.cfg.5`, `completions/pointsman.bash` and
/// `completions/_pointsman` under `dir`; returns their paths.
pub fn write_all(command: clap::Command, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let (man, completions) = (dir.join("man"), dir.join("completions"));
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    let mut written = Vec::new();
    let mut write = |path: PathBuf, bytes: Vec<u8>| -> io::Result<()> {
        std::fs::File::create(&path)?.write_all(&bytes)?;
        written.push(path);
        Ok(())
    };
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    write(man.join("pointsman.1"), page)?;
    write(
        man.join("pointsman.cfg.5"),
        config_page(CONFIG_DOC).into_bytes(),
    )?;
    for (shell, name) in [
        (clap_complete::Shell::Bash, "pointsman.bash"),
        (clap_complete::Shell::Zsh, "_pointsman"),
    ] {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut command.clone(), "pointsman", &mut script);
        write(completions.join(name), script)?;
    }
    Ok(written)
}

/// docs/config.md as a roff page: `##` headings become sections, `###` subsections, each
/// table row a tagged paragraph (its first cell in bold, the others after it), the rest
/// paragraphs. Links keep their text.
pub fn config_page(markdown: &str) -> String {
    let mut page = format!(
        ".TH POINTSMAN.CFG 5 \"\" \"pointsman {}\" \"File formats\"\n\
         .SH NAME\npointsman.cfg \\- the haproxy.cfg subset pointsman reads\n",
        env!("CARGO_PKG_VERSION")
    );
    let lines: Vec<&str> = markdown.lines().map(str::trim_end).collect();
    for (i, &line) in lines.iter().enumerate() {
        let is_table_head = lines
            .get(i + 1)
            .is_some_and(|next| next.starts_with("|---"));
        if let Some(title) = line.strip_prefix("### ") {
            page += &format!(".SS \"{}\"\n", roff_text(title));
        } else if let Some(title) = line.strip_prefix("## ") {
            page += &format!(".SH \"{}\"\n", roff_text(&title.to_uppercase()));
        } else if line.starts_with("# ") || line.starts_with("|---") || is_table_head {
            continue;
        } else if line.is_empty() {
            page += ".PP\n";
        } else if line.starts_with('|') {
            page += &table_row(line);
        } else {
            page += &roff_text(line);
            page.push('\n');
        }
    }
    page
}

/// One markdown table row as `.TP`: the keyword cell in bold, the other cells joined.
fn table_row(row: &str) -> String {
    let cells: Vec<String> = row
        .replace("\\|", "\u{1}")
        .trim()
        .trim_matches('|')
        .split('|')
        .map(|c| c.trim().replace('\u{1}', "|"))
        .collect();
    let Some((first, rest)) = cells.split_first() else {
        return String::new();
    };
    let rest: Vec<&str> = rest
        .iter()
        .map(String::as_str)
        .filter(|c| !c.is_empty())
        .collect();
    format!(
        ".TP\n\\fB{}\\fR\n{}\n",
        roff_text(first),
        roff_text(&rest.join(" \u{2014} "))
    )
}

/// Markdown inline text as roff: code spans and emphasis marks dropped, `[text](link)` as
/// its text, backslashes escaped, and a line that would start with a control character
/// protected.
fn roff_text(text: &str) -> String {
    let mut plain = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let link = rest[open..].find("](").and_then(|mid| {
            rest[open + mid..]
                .find(')')
                .map(|end| (mid, open + mid + end))
        });
        let Some((mid, end)) = link else { break };
        plain += &rest[..open];
        plain += &rest[open + 1..open + mid];
        rest = &rest[end + 1..];
    }
    plain += rest;
    let escaped = plain
        .replace('`', "")
        .replace("**", "")
        .replace('\\', "\\e")
        .replace('-', "\\-");
    match escaped.starts_with(['.', '\'']) {
        true => format!("\\&{escaped}"),
        false => escaped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_page_has_sections_and_keyword_entries() {
        let page = config_page(
            "# T\n\n## Keywords\n\n| Keyword | S |\n|---|---|\n| `nbthread N` | G |\n.dot\n",
        );
        assert!(page.starts_with(".TH POINTSMAN.CFG 5"), "{page}");
        assert!(page.contains(".SH \"KEYWORDS\"\n"), "{page}");
        assert!(page.contains(".TP\n\\fBnbthread N\\fR\nG\n"), "{page}");
        assert!(page.contains("\\&.dot\n"), "{page}");
    }

    #[test]
    fn links_keep_their_text_and_dashes_are_escaped() {
        assert_eq!(roff_text("see [docs](x.md) -c"), "see docs \\-c");
        assert_eq!(roff_text("a\\|b"), "a\\e|b");
    }
}
