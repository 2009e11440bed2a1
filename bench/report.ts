// Benchmark output: an aligned table for people, or JSON (--json) for machines.
// Every report starts with the ISA the kernels run on (RANKFN_ISA can lower it),
// so no figure is read without the path that produced it.
import { isa } from "../runtime/ffi";

export type Row = Record<string, string | number>;

export class Report {
  readonly sections: { title: string; rows: Row[]; notes: string[] }[] = [];
  readonly facts: Record<string, number | string> = {};

  constructor(readonly name: string) {
    const { active, best } = isa();
    this.facts.isa = active === best ? active : `${active} (RANKFN_ISA; best supported: ${best})`;
  }

  section(title: string): { add(row: Row): void; note(text: string): void } {
    const s = { title, rows: [] as Row[], notes: [] as string[] };
    this.sections.push(s);
    return { add: (row) => s.rows.push(row), note: (text) => s.notes.push(text) };
  }

  fact(name: string, value: number | string): void {
    this.facts[name] = value;
  }

  print(json: boolean): void {
    if (json) {
      console.log(JSON.stringify({ bench: this.name, facts: this.facts, sections: this.sections }, null, 2));
      return;
    }
    console.log(`\n# bench ${this.name}`);
    for (const [k, v] of Object.entries(this.facts)) console.log(`${k}: ${fmt(v)}`);
    for (const s of this.sections) {
      console.log(`\n## ${s.title}`);
      if (s.rows.length > 0) {
        const cols = [...new Set(s.rows.flatMap((r) => Object.keys(r)))];
        const cells = s.rows.map((r) => cols.map((c) => fmt(r[c] ?? "")));
        const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
        console.log(cols.map((c, i) => c.padStart(widths[i]!)).join("  "));
        for (const row of cells) console.log(row.map((v, i) => v.padStart(widths[i]!)).join("  "));
      }
      for (const n of s.notes) console.log(`  ${n}`);
    }
  }
}

function fmt(v: string | number): string {
  if (typeof v === "string") return v;
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}
