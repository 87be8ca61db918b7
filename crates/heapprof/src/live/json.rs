//! A reader of the sampling profile's JSON that keeps its own stack: the node tree nests as deep
//! as the sampled stacks, which a recursive parser would follow on the thread's stack. Only the
//! fields a profile needs are read; others (`scriptId`, `samplingInterval`, DevTools' extras)
//! are skipped, whatever they hold.

use std::borrow::Cow;

use super::{CallFrame, ProfileNode, ProfileSample, SampledProfile};

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

type R<T> = Result<T, String>;

impl<'a> Reader<'a> {
    fn err<T>(&self, what: &str) -> R<T> {
        Err(format!("{what} at byte {}", self.i))
    }

    /// The next byte that is not white space, not consumed.
    fn peek(&mut self) -> Option<u8> {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(c);
            }
            self.i += 1;
        }
        None
    }

    fn eat(&mut self, c: u8) -> R<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            self.err(&format!("expected '{}'", c as char))
        }
    }

    /// Consumes `c` if it comes next.
    fn take(&mut self, c: u8) -> bool {
        let is = self.peek() == Some(c);
        if is {
            self.i += 1;
        }
        is
    }

    fn string(&mut self) -> R<String> {
        Ok(self.str()?.into_owned())
    }

    /// A string, borrowed from the input where it has no escapes.
    fn str(&mut self) -> R<Cow<'a, str>> {
        self.eat(b'"')?;
        let from = self.i;
        match self.b[from..].iter().position(|&c| c == b'"' || c == b'\\') {
            Some(n) if self.b[from + n] == b'"' => {
                self.i = from + n + 1;
                return Ok(Cow::Borrowed(self.text(from, from + n)?));
            }
            _ => {}
        }
        let mut out = String::new();
        let mut start = self.i;
        loop {
            let Some(&c) = self.b.get(self.i) else {
                return self.err("unterminated string");
            };
            match c {
                b'"' => {
                    out.push_str(self.text(start, self.i)?);
                    self.i += 1;
                    return Ok(Cow::Owned(out));
                }
                b'\\' => {
                    out.push_str(self.text(start, self.i)?);
                    self.i += 1;
                    let Some(&e) = self.b.get(self.i) else {
                        return self.err("unterminated string");
                    };
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e as char),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode()?),
                        _ => return self.err("bad escape"),
                    }
                    start = self.i;
                }
                _ => self.i += 1,
            }
        }
    }

    fn text(&self, from: usize, to: usize) -> R<&'a str> {
        std::str::from_utf8(&self.b[from..to]).or_else(|_| self.err("not UTF-8"))
    }

    fn hex4(&mut self) -> R<u32> {
        let digits = self
            .b
            .get(self.i..self.i + 4)
            .and_then(|d| std::str::from_utf8(d).ok());
        let v = digits.and_then(|d| u32::from_str_radix(d, 16).ok());
        match v {
            Some(v) => {
                self.i += 4;
                Ok(v)
            }
            None => self.err("bad \\u escape"),
        }
    }

    /// After `\\u`: a character, a surrogate pair joined, a lone surrogate as U+FFFD (which
    /// `JSON.stringify` writes as an escape and a Rust string cannot hold).
    fn unicode(&mut self) -> R<char> {
        let hi = self.hex4()?;
        if (0xd800..0xdc00).contains(&hi) && self.b[self.i..].starts_with(b"\\u") {
            let at = self.i;
            self.i += 2;
            let lo = self.hex4()?;
            if (0xdc00..0xe000).contains(&lo) {
                let c = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
                return Ok(char::from_u32(c).unwrap_or('\u{fffd}'));
            }
            self.i = at;
        }
        Ok(char::from_u32(hi).unwrap_or('\u{fffd}'))
    }

    fn number(&mut self) -> R<f64> {
        self.peek();
        let start = self.i;
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                break;
            }
            self.i += 1;
        }
        let t = self.text(start, self.i)?;
        t.parse::<f64>().or_else(|_| self.err("expected a number"))
    }

    /// Skips one value of any kind, nested as deep as it is, without recursion.
    fn skip(&mut self) -> R<()> {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.str()?;
                }
                Some(b'{' | b'[') => {
                    self.i += 1;
                    depth += 1;
                }
                Some(b'}' | b']') => {
                    if depth == 0 {
                        return self.err("unexpected end of a container");
                    }
                    self.i += 1;
                    depth -= 1;
                }
                Some(b',' | b':') if depth > 0 => self.i += 1,
                Some(b't') if self.b[self.i..].starts_with(b"true") => self.i += 4,
                Some(b'f') if self.b[self.i..].starts_with(b"false") => self.i += 5,
                Some(b'n') if self.b[self.i..].starts_with(b"null") => self.i += 4,
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                }
                _ => return self.err("expected a value"),
            }
            if depth == 0 {
                return Ok(());
            }
        }
    }

    /// Before a member of an object: `None` at its closing brace (consumed), else its key.
    fn member(&mut self, first: &mut bool) -> R<Option<Cow<'a, str>>> {
        if self.take(b'}') {
            return Ok(None);
        }
        if !std::mem::take(first) {
            self.eat(b',')?;
        }
        let key = self.str()?;
        self.eat(b':')?;
        Ok(Some(key))
    }

    fn call_frame(&mut self) -> R<CallFrame> {
        let mut cf = CallFrame {
            line_number: -1,
            column_number: -1,
            ..CallFrame::default()
        };
        self.eat(b'{')?;
        let mut first = true;
        while let Some(key) = self.member(&mut first)? {
            match key.as_ref() {
                "functionName" => cf.function_name = self.string()?,
                "url" => cf.url = self.string()?,
                "lineNumber" => cf.line_number = self.number()? as i64,
                "columnNumber" => cf.column_number = self.number()? as i64,
                _ => self.skip()?,
            }
        }
        Ok(cf)
    }

    fn sample(&mut self) -> R<ProfileSample> {
        let mut s = ProfileSample {
            size: 0.0,
            node_id: 0,
            ordinal: 0.0,
        };
        self.eat(b'{')?;
        let mut first = true;
        while let Some(key) = self.member(&mut first)? {
            match key.as_ref() {
                "size" => s.size = self.number()?,
                "nodeId" => s.node_id = self.number()? as u64,
                "ordinal" => s.ordinal = self.number()?,
                _ => self.skip()?,
            }
        }
        Ok(s)
    }

    /// The node tree from `head`, children listed in order, with a stack of open nodes.
    fn tree(&mut self, nodes: &mut Vec<ProfileNode>) -> R<()> {
        struct Open {
            node: usize,
            /// Inside its `children` array (else among its members).
            in_children: bool,
            first: bool,
        }
        self.eat(b'{')?;
        nodes.push(ProfileNode::default());
        let mut stack = vec![Open {
            node: nodes.len() - 1,
            in_children: false,
            first: true,
        }];
        let mut frames = 0;
        while let Some(top) = stack.last_mut() {
            if top.in_children {
                if self.take(b']') {
                    top.in_children = false;
                    continue;
                }
                if !std::mem::take(&mut top.first) {
                    self.eat(b',')?;
                }
                self.eat(b'{')?;
                let parent = top.node;
                nodes.push(ProfileNode::default());
                let k = nodes.len() - 1;
                nodes[parent].children.push(k);
                stack.push(Open {
                    node: k,
                    in_children: false,
                    first: true,
                });
                continue;
            }
            let k = top.node;
            let Some(key) = self.member(&mut top.first)? else {
                stack.pop();
                continue;
            };
            match key.as_ref() {
                "callFrame" => {
                    nodes[k].call_frame = self.call_frame()?;
                    frames += 1;
                }
                "selfSize" => nodes[k].self_size = self.number()?,
                "id" => nodes[k].id = self.number()? as u64,
                "children" => {
                    self.eat(b'[')?;
                    top.in_children = true;
                    top.first = true;
                }
                _ => self.skip()?,
            }
        }
        if frames < nodes.len() {
            return Err("a node has no callFrame".into());
        }
        Ok(())
    }
}

pub(super) fn profile(text: &str) -> Result<SampledProfile, String> {
    let mut r = Reader {
        b: text.as_bytes(),
        i: 0,
    };
    let mut out = SampledProfile::default();
    let mut head = false;
    r.eat(b'{')?;
    let mut first = true;
    while let Some(key) = r.member(&mut first)? {
        match key.as_ref() {
            "head" => {
                r.tree(&mut out.nodes)?;
                head = true;
            }
            "samples" => {
                r.eat(b'[')?;
                let mut first = true;
                while !r.take(b']') {
                    if !std::mem::take(&mut first) {
                        r.eat(b',')?;
                    }
                    out.samples.push(r.sample()?);
                }
            }
            _ => r.skip()?,
        }
    }
    if !head {
        return Err("no \"head\" node".into());
    }
    Ok(out)
}
