//! CSV import of master data through the command line.

use std::path::Path;
use std::process::{Command, Output};

fn import(dir: &Path, database: &str, kind: &str, csv: &str, extra: &[&str]) -> Output {
    let file = dir.join(format!("{kind}.csv"));
    std::fs::write(&file, csv).unwrap();
    // Imports go into a database `ordo init` made.
    let init = Command::new(env!("CARGO_BIN_EXE_ordo")).current_dir(dir).args(["init", "--database", database]).output().unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    Command::new(env!("CARGO_BIN_EXE_ordo"))
        .current_dir(dir)
        .args(["import", kind, file.to_str().unwrap(), "--database", database])
        .args(extra)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn product_count(database: &str) -> i64 {
    let ordo = ordo_app::Ordo::open(database, &Default::default(), Default::default()).await.unwrap();
    let count = ordo.master_data().master_data_counts().await.unwrap().products;
    ordo.close().await;
    count
}

#[tokio::test]
async fn a_file_with_bad_rows_imports_nothing_unless_told_to_skip_them() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("ordo.db").display());
    let csv = "sku,name,unit_cost,abc_class,active\n\
               MUG-1,Stoneware mug,4.20,A,true\n\
               MUG-2,Enamel mug,3.999,B,true\n\
               MUG-3,,2.00,C,true\n\
               MUG-1,Duplicate mug,1.00,,\n\
               MUG-4,Glass mug,2.50,,\n\
               MUG-5,Tin mug,oops,,\n";
    let out = import(dir.path(), &database, "products", csv, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    for expected in ["line 3: unit_cost", "line 4: name", "line 5:", "line 7: unit_cost", "nothing was imported"] {
        assert!(stderr.contains(expected), "{expected:?} missing from:\n{stderr}");
    }
    assert_eq!(product_count(&database).await, 0);

    let out = import(dir.path(), &database, "products", csv, &["--skip-invalid"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("imported 2 products of 6 rows; 4 skipped"), "{}", text(&out.stdout));
    assert_eq!(product_count(&database).await, 2);

    // Rows that exist already are reported, not overwritten.
    let out = import(dir.path(), &database, "products", "sku,name,unit_cost\nMUG-1,Other,1.00\n", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("line 2: sku: \"MUG-1\" already exists"), "{}", text(&out.stderr));
}

#[tokio::test]
async fn every_master_data_kind_imports() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("ordo.db").display());
    let files = [
        ("channels", "code,name,kind,currency,ship_by_sla_hours\nweb,Web shop,web,USD,24\namazon,Amazon,marketplace,USD,\n"),
        ("locations", "code,name,kind,priority,time_zone,cutoff_time\ncentral,Central,warehouse,1,America/Chicago,15:00\n3pl,Overflow,3pl,2,,\n"),
        ("products", "sku,name,unit_cost\nMUG-1,Mug,4.20\n"),
        ("listings", "channel,channel_sku,sku,price\nweb,W-1,MUG-1,12.99\namazon,B0001,MUG-1,13.99\n"),
        ("customers", "email,name,segment\nann@example.com,Ann,vip\nbob@example.com,Bob,\n"),
        ("suppliers", "code,name,currency,lead_time_days\nacme,Acme Ltd,EUR,30\n"),
    ];
    for (kind, csv) in files {
        let out = import(dir.path(), &database, kind, csv, &[]);
        assert!(out.status.success(), "{kind}: {}", text(&out.stderr));
    }
    let ordo = ordo_app::Ordo::open(&database, &Default::default(), Default::default()).await.unwrap();
    let counts = ordo.master_data().master_data_counts().await.unwrap();
    assert_eq!((counts.channels, counts.locations, counts.listings, counts.customers, counts.suppliers), (2, 2, 2, 2, 1));

    let out = import(dir.path(), &database, "listings", "channel,channel_sku,sku,price,colour\nweb,W-2,MUG-1,1.00,red\n", &[]);
    assert_eq!(out.status.code(), Some(2), "an unknown column stops the import before any row");
    assert!(text(&out.stderr).contains("colour"), "{}", text(&out.stderr));
    let out = import(dir.path(), &database, "listings", "channel,channel_sku,sku,price\nweb,W-2,NOPE,1.00\n", &[]);
    assert!(text(&out.stderr).contains("line 2: sku: unknown SKU"), "{}", text(&out.stderr));
}

/// `ordo import sales-history`: daily sales from before Ordo, checked row by row like master
/// data; a bad file imports nothing and names each bad line.
#[tokio::test]
async fn sales_history_is_imported_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("ordo.db").display());
    let out = import(dir.path(), &database, "products", "sku,name,unit_cost\nMUG-1,Stoneware mug,4.20\n", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let bad = "sku,date,quantity\nMUG-1,2026-01-05,3\nMUG-2,2026-01-05,1\nMUG-1,2026-01-06,many\n";
    let out = import(dir.path(), &database, "sales-history", bad, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    for expected in ["line 3: sku: no product has SKU \"MUG-2\"", "line 4: quantity: must be a whole number", "2 of 3 rows are bad; nothing was imported"] {
        assert!(stderr.contains(expected), "{expected:?} missing from:\n{stderr}");
    }
    let out = import(dir.path(), &database, "sales-history", bad, &["--skip-invalid"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("imported 1 sales history rows of 3 rows; 2 skipped"), "{}", text(&out.stdout));
    let out = import(dir.path(), &database, "sales-history", "sku,day,quantity\nMUG-1,2026-01-05,3\n", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("header"), "{}", text(&out.stderr));
}
