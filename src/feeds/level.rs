//! The four warning colours of Chinese early-warning signals (预警信号), lowest first. The
//! order is what alerting compares: crossing *up* into a level raises an alert.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertLevel {
    Blue,
    Yellow,
    Orange,
    Red,
}

impl AlertLevel {
    pub const ALL: [AlertLevel; 4] = [
        AlertLevel::Blue,
        AlertLevel::Yellow,
        AlertLevel::Orange,
        AlertLevel::Red,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertLevel::Blue => "blue",
            AlertLevel::Yellow => "yellow",
            AlertLevel::Orange => "orange",
            AlertLevel::Red => "red",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            AlertLevel::Blue => "蓝色",
            AlertLevel::Yellow => "黄色",
            AlertLevel::Orange => "橙色",
            AlertLevel::Red => "红色",
        }
    }

    /// 1 (blue) … 4 (red); stored so the database can filter "this level or higher".
    pub fn rank(self) -> i64 {
        self as i64 + 1
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn parse(s: &str) -> Option<AlertLevel> {
        AlertLevel::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

impl std::fmt::Display for AlertLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ranks_and_order_agree() {
        for (i, level) in AlertLevel::ALL.into_iter().enumerate() {
            assert_eq!(AlertLevel::parse(level.as_str()), Some(level));
            assert_eq!(level.rank(), i as i64 + 1);
            assert_eq!(
                serde_json::to_value(level).ok(),
                Some(serde_json::json!(level.as_str()))
            );
        }
        assert!(AlertLevel::Blue < AlertLevel::Red);
        assert_eq!(AlertLevel::parse("purple"), None);
    }
}
