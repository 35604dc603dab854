//! FIFO message groups: each group's messages in send order, how many of them are in flight, and the
//! queue of groups that may be received from (no message in flight, first message visible).
//!
//! Because receives always take a group's messages from its front, the messages in flight (and those
//! visible again after their timeout) are always a prefix of the group, so removing one is O(batch).

use std::collections::{HashMap, VecDeque};

/// One message group.
#[derive(Debug)]
struct Group {
    name: String,
    members: VecDeque<u32>,
    in_flight: u32,
    queued_as_ready: bool,
}

/// The groups of a FIFO queue.
#[derive(Debug, Default)]
pub(super) struct FifoGroups {
    by_name: HashMap<String, u32>,
    table: Vec<Group>,
    free: Vec<u32>,
    ready: VecDeque<u32>,
}

impl FifoGroups {
    /// Appends the message in `slot` to the group `name` (created if new); returns the group's index.
    pub fn append(&mut self, name: &str, slot: u32) -> u32 {
        let index = match self.by_name.get(name) {
            Some(&index) => index,
            None => self.create(name),
        };
        self.table[index as usize].members.push_back(slot);
        index
    }

    fn create(&mut self, name: &str) -> u32 {
        let group = Group {
            name: name.to_owned(),
            members: VecDeque::new(),
            in_flight: 0,
            queued_as_ready: false,
        };
        let index = match self.free.pop() {
            Some(index) => {
                self.table[index as usize] = group;
                index
            }
            None => {
                self.table.push(group);
                u32::try_from(self.table.len() - 1).expect("fewer than 2^32 message groups")
            }
        };
        self.by_name.insert(name.to_owned(), index);
        index
    }

    /// The group's messages in send order.
    pub fn members(&self, group: u32) -> &VecDeque<u32> {
        &self.table[group as usize].members
    }

    /// True when a message of the group is in flight (the group is locked).
    pub fn is_locked(&self, group: u32) -> bool {
        self.table[group as usize].in_flight > 0
    }

    /// Records that a message of the group was received.
    pub fn received(&mut self, group: u32) {
        self.table[group as usize].in_flight += 1;
    }

    /// Records that an in-flight message of the group became visible again.
    pub fn released(&mut self, group: u32) {
        self.table[group as usize].in_flight -= 1;
    }

    /// Removes the message in `slot` from its group (deleted or moved to a dead-letter queue);
    /// `was_in_flight` says whether it counted as in flight. An emptied group is forgotten.
    pub fn remove(&mut self, group: u32, slot: u32, was_in_flight: bool) {
        let entry = &mut self.table[group as usize];
        if let Some(position) = entry.members.iter().position(|&member| member == slot) {
            entry.members.remove(position);
        }
        if was_in_flight {
            entry.in_flight -= 1;
        }
        if entry.members.is_empty() {
            let name = std::mem::take(&mut entry.name);
            entry.queued_as_ready = false;
            self.by_name.remove(&name);
            self.free.push(group);
        }
    }

    /// Queues the group for receiving, if it is unlocked, not queued already, and `front_visible`
    /// (its first message can be received).
    pub fn offer(&mut self, group: u32, front_visible: bool) {
        let entry = &mut self.table[group as usize];
        if front_visible
            && entry.in_flight == 0
            && !entry.queued_as_ready
            && !entry.members.is_empty()
        {
            entry.queued_as_ready = true;
            self.ready.push_back(group);
        }
    }

    /// The next group queued for receiving (the caller checks it still is receivable).
    pub fn next_ready(&mut self) -> Option<u32> {
        while let Some(group) = self.ready.pop_front() {
            let entry = &mut self.table[group as usize];
            if entry.queued_as_ready {
                entry.queued_as_ready = false;
                return Some(group);
            }
        }
        None
    }

    /// How many groups exist (have messages).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_name.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_keep_send_order_per_group() {
        let mut groups = FifoGroups::default();
        let a = groups.append("a", 10);
        let b = groups.append("b", 11);
        assert_eq!(groups.append("a", 12), a);
        assert_ne!(a, b);
        assert_eq!(
            groups.members(a).iter().copied().collect::<Vec<_>>(),
            [10, 12]
        );
        assert_eq!(groups.table[b as usize].name, "b");
        assert_eq!(groups.len(), 2);
    }

    #[test]
    fn a_group_with_a_message_in_flight_is_not_offered() {
        let mut groups = FifoGroups::default();
        let a = groups.append("a", 1);
        groups.append("a", 2);
        groups.received(a);
        groups.offer(a, true);
        assert_eq!(groups.next_ready(), None);
        groups.remove(a, 1, true);
        assert!(!groups.is_locked(a));
        groups.offer(a, true);
        groups.offer(a, true);
        assert_eq!(groups.next_ready(), Some(a));
        assert_eq!(groups.next_ready(), None, "offered once only");
    }

    #[test]
    fn emptied_groups_are_forgotten_and_their_index_reused() {
        let mut groups = FifoGroups::default();
        let a = groups.append("a", 1);
        groups.offer(a, true);
        groups.remove(a, 1, false);
        assert_eq!(groups.len(), 0);
        assert_eq!(groups.next_ready(), None, "a stale offer is skipped");
        let b = groups.append("b", 2);
        assert_eq!(b, a);
        assert_eq!(groups.table[b as usize].name, "b");
    }
}
