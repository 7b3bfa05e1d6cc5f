//! The `show stat` CSV read back as a table, so that the stats page and `/metrics` show the
//! very fields `show stat` prints (one source of truth, as in HAProxy, whose page and exporter
//! read the same stats fields).

use std::collections::HashMap;

/// Rows of `show stat` CSV, cells addressed by column name.
#[derive(Debug, Clone, Default)]
pub struct StatTable {
    columns: HashMap<String, usize>,
    rows: Vec<Vec<String>>,
}

/// Row types in the `type` column.
pub const FRONTEND: &str = "0";
pub const BACKEND: &str = "1";
pub const SERVER: &str = "2";

impl StatTable {
    /// Reads `# name,name,…` and the rows that follow.
    pub fn parse(csv: &str) -> StatTable {
        let mut lines = csv.lines();
        let header = lines.next().unwrap_or_default();
        let columns = header
            .trim_start_matches("# ")
            .split(',')
            .enumerate()
            .filter(|(_, name)| !name.is_empty())
            .map(|(i, name)| (name.to_string(), i))
            .collect();
        let rows = lines
            .filter(|l| !l.is_empty())
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect();
        StatTable { columns, rows }
    }

    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows
            .iter()
            .map(move |cells| Row { table: self, cells })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    table: &'a StatTable,
    cells: &'a [String],
}

impl<'a> Row<'a> {
    /// The cell of column `name` ("" when empty or unknown).
    pub fn get(&self, name: &str) -> &'a str {
        self.table
            .columns
            .get(name)
            .and_then(|&i| self.cells.get(i))
            .map_or("", String::as_str)
    }

    /// The cell as a number, when it holds one.
    pub fn num(&self, name: &str) -> Option<f64> {
        self.get(name).parse().ok()
    }

    pub fn kind(&self) -> &'a str {
        self.get("type")
    }

    pub fn proxy(&self) -> &'a str {
        self.get("pxname")
    }

    pub fn name(&self) -> &'a str {
        self.get("svname")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cells_by_name() {
        let t = StatTable::parse("# pxname,svname,scur,type,\napp,FRONTEND,3,0,\nbk,s1,,2,\n");
        let rows: Vec<Row> = t.rows().collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].proxy(), rows[0].name(), rows[0].num("scur")),
            ("app", "FRONTEND", Some(3.0))
        );
        assert_eq!(
            (rows[1].kind(), rows[1].get("scur"), rows[1].num("scur")),
            (SERVER, "", None)
        );
        assert_eq!(rows[1].get("nope"), "");
    }
}
