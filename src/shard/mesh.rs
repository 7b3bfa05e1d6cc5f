//! Full channel meshes between the shards, built in the main thread before any shard starts.
//!
//! [`full`] makes one bounded glommio shared channel for every ordered pair of shards and hands
//! shard k its [`Ends`]: its row of senders (k → j) and its column of receivers (j → k), with k
//! as its index, so shard 0 (the coordinator) is known before the threads start. On its own
//! executor a shard calls [`Ends::connect`], which connects every end at once and returns the
//! [`Senders`] and [`Receivers`] the rest of `shard` uses.
//!
//! Why not glommio's `MeshBuilder`: its `join` registers each executor at run time (through an
//! `Rc<RwLock>` shared across threads), orders peers by executor id (so which thread is shard 0
//! is known only afterwards), has the last one to register create the channels and notify the
//! others one by one, then connects each end in sequence. Here nothing is decided at run time
//! and no end waits for another end of the same shard: an end is connected as soon as the
//! shard at its other end has started connecting. A pending connection is woken on every
//! reactor loop, so a connecting executor only parks if glommio parks with runnable tasks —
//! the start-up hang's real cause, fixed in vendor/glommio (patch 6, `vendor/VENDORED.md`;
//! measured with `scripts/start-stress.sh`).

use futures_lite::future;
use glommio::channels::shared_channel::{
    self, ConnectedReceiver, ConnectedSender, SharedReceiver, SharedSender,
};
use glommio::GlommioError;
use std::future::Future;
use std::io::{Error, ErrorKind};
use std::pin::Pin;
use std::task::Poll;

/// One shard's unconnected ends of a full mesh. `Send`: made in the main thread, moved to the
/// shard's thread, connected there.
pub struct Ends<T: Send> {
    index: usize,
    /// To each shard; `None` at `index`.
    senders: Vec<Option<SharedSender<T>>>,
    /// From each shard; `None` at `index`.
    receivers: Vec<Option<SharedReceiver<T>>>,
}

/// A full mesh of `shards` shards, `capacity` messages in flight per channel: the `Ends` of
/// shard k at position k.
pub fn full<T: Send + 'static>(shards: usize, capacity: usize) -> Vec<Ends<T>> {
    let mut ends: Vec<Ends<T>> = (0..shards)
        .map(|index| Ends {
            index,
            senders: (0..shards).map(|_| None).collect(),
            receivers: (0..shards).map(|_| None).collect(),
        })
        .collect();
    for from in 0..shards {
        for to in (0..shards).filter(|&to| to != from) {
            let (sender, receiver) = shared_channel::new_bounded(capacity);
            ends[from].senders[to] = Some(sender);
            ends[to].receivers[from] = Some(receiver);
        }
    }
    ends
}

impl<T: Send + 'static> Ends<T> {
    /// This shard's index in the mesh.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Connects every end on this shard's executor, all at once. Completes when every other
    /// shard has started connecting its side.
    pub async fn connect(self) -> (Senders<T>, Receivers<T>) {
        let senders = join_all(self.senders.into_iter().map(|end| async move {
            match end {
                Some(end) => Some(end.connect().await),
                None => None,
            }
        }));
        let receivers = join_all(self.receivers.into_iter().map(|end| async move {
            match end {
                Some(end) => Some(end.connect().await),
                None => None,
            }
        }));
        let (senders, receivers) = future::zip(senders, receivers).await;
        (
            Senders {
                index: self.index,
                senders,
            },
            Receivers {
                index: self.index,
                receivers,
            },
        )
    }
}

/// Polls every future of `futures` until each is ready; their outputs in order. (One task
/// polls them all: an end's progress never waits on another task being scheduled.)
async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    future::poll_fn(|cx| {
        let mut waiting = false;
        for (future, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(outputs.iter_mut().filter_map(Option::take).collect())
        }
    })
    .await
}

fn invalid<T>(message: String) -> GlommioError<T> {
    GlommioError::IoError(Error::new(ErrorKind::InvalidInput, message))
}

/// One shard's connected senders, to every other shard.
pub struct Senders<T: Send> {
    index: usize,
    senders: Vec<Option<ConnectedSender<T>>>,
}

impl<T: Send> Senders<T> {
    /// This shard's index in the mesh.
    pub fn peer_id(&self) -> usize {
        self.index
    }

    /// How many shards the mesh has (this one included).
    pub fn nr_consumers(&self) -> usize {
        self.senders.len()
    }

    /// Sends `message` to shard `to`, waiting for room in the channel. Fails if that shard is
    /// gone, or if `to` is this shard or not in the mesh.
    pub async fn send_to(&self, to: usize, message: T) -> glommio::Result<(), T> {
        match self.senders.get(to) {
            Some(Some(sender)) => sender.send(message).await,
            Some(None) => Err(invalid(format!(
                "shard {to} cannot send to itself over the mesh"
            ))),
            None => Err(invalid(format!("shard {to} is not in the mesh"))),
        }
    }
}

/// One shard's connected receivers, from every other shard.
pub struct Receivers<T: Send> {
    index: usize,
    receivers: Vec<Option<ConnectedReceiver<T>>>,
}

impl<T: Send> Receivers<T> {
    /// This shard's index in the mesh.
    pub fn peer_id(&self) -> usize {
        self.index
    }

    /// How many shards the mesh has (this one included).
    pub fn nr_producers(&self) -> usize {
        self.receivers.len()
    }

    /// The next message from shard `from`; `Ok(None)` once that shard is gone. Fails if
    /// `from` is this shard, not in the mesh, or its receiver was taken by [`Self::streams`].
    pub async fn recv_from(&self, from: usize) -> glommio::Result<Option<T>, ()> {
        match self.receivers.get(from) {
            Some(Some(receiver)) => Ok(receiver.recv().await),
            Some(None) => Err(invalid(format!(
                "shard {from} has no receiver here (itself, or taken by streams())"
            ))),
            None => Err(invalid(format!("shard {from} is not in the mesh"))),
        }
    }

    /// Takes every receiver, with the index of the shard it receives from.
    pub fn streams(&mut self) -> Vec<(usize, ConnectedReceiver<T>)> {
        self.receivers
            .iter_mut()
            .enumerate()
            .filter_map(|(from, receiver)| receiver.take().map(|r| (from, r)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glommio::{LocalExecutorBuilder, Placement};

    #[test]
    fn every_shard_has_one_end_per_other_shard() {
        let ends = full::<u32>(3, 4);
        for (k, end) in ends.iter().enumerate() {
            assert_eq!(end.index(), k);
            for j in 0..3 {
                assert_eq!(end.senders[j].is_some(), j != k);
                assert_eq!(end.receivers[j].is_some(), j != k);
            }
        }
    }

    /// Four executors on their own threads connect a mesh and send every other shard its
    /// index; each receives exactly the indexes of the others, in the right streams.
    #[test]
    fn four_shards_connect_and_exchange() {
        let shards = 4;
        let threads: Vec<_> = full::<usize>(shards, 2)
            .into_iter()
            .map(|ends| {
                LocalExecutorBuilder::new(Placement::Unbound)
                    .spawn(move || async move {
                        let index = ends.index();
                        let (tx, mut rx) = ends.connect().await;
                        assert_eq!((tx.peer_id(), rx.peer_id()), (index, index));
                        assert_eq!((tx.nr_consumers(), rx.nr_producers()), (shards, shards));
                        assert!(tx.send_to(index, index).await.is_err());
                        assert!(tx.send_to(shards, index).await.is_err());
                        for to in (0..shards).filter(|&to| to != index) {
                            tx.send_to(to, index).await.expect("send");
                        }
                        let mut from_others = Vec::new();
                        for (from, stream) in rx.streams() {
                            assert_eq!(stream.recv().await, Some(from));
                            from_others.push(from);
                        }
                        from_others
                    })
                    .expect("executor")
            })
            .collect();
        for (index, thread) in threads.into_iter().enumerate() {
            let from_others = thread.join().expect("shard thread");
            let expected: Vec<usize> = (0..shards).filter(|&j| j != index).collect();
            assert_eq!(from_others, expected);
        }
    }
}
