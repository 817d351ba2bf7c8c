//! Time-driven expiry: elevations, quarantines, bonds, locks and sessions whose time has come.
//! The runtime sends a `Tick` periodically; since it is a logged command, replay expires the
//! same things at the same instants.

use super::reply::{Reply, TickReport};
use super::session_ops::emit_granted;
use super::{Actor, Ctx, Engine, Result};
use crate::event::{Event, EventType};
use crate::id::SessionId;
use crate::session::SessionState;

impl Engine {
    pub(crate) fn tick(&mut self, actor: &Actor, ctx: &mut Ctx) -> Result<Reply> {
        Self::require_admin(actor, "drive the clock")?;
        let now = ctx.now;
        let mut report = TickReport::default();
        for e in self.elevations.expire(now) {
            report.elevations += 1;
            ctx.emit(
                Event::new(EventType::RingElevationExpired, now)
                    .session(&e.session_id)
                    .agent(&e.agent)
                    .payload(
                        crate::detail! { "elevation_id": e.elevation_id, "ring": e.elevated_ring.number() },
                    ),
            );
        }
        for q in self.quarantine.expire(now) {
            report.quarantines += 1;
            ctx.emit(
                Event::new(EventType::LiabilityQuarantineReleased, now)
                    .session(&q.session_id)
                    .agent(&q.agent)
                    .payload(
                        crate::detail! { "cause": "expired", "quarantine_id": q.quarantine_id },
                    ),
            );
        }
        for b in self.vouches.expire(now) {
            report.vouches += 1;
            ctx.emit(
                Event::new(EventType::LiabilityVouchReleased, now)
                    .session(&b.session_id)
                    .agent(&b.voucher)
                    .payload(crate::detail! { "cause": "expired", "vouch_id": b.vouch_id }),
            );
            self.rederive(&b.session_id, &b.vouchee, "bond expired", ctx);
        }
        let ids: Vec<SessionId> = self.sessions.keys().cloned().collect();
        for id in ids {
            let Some(slot) = self.sessions.get_mut(&id) else {
                continue;
            };
            if slot.session.state() == SessionState::Archived {
                continue;
            }
            if slot.locks.next_expiry().is_some_and(|t| t <= now) {
                let (expired, granted) = slot.locks.expire(now);
                report.locks += expired.len();
                for l in expired {
                    ctx.emit(
                        Event::new(EventType::LockReleased, now)
                            .session(&id)
                            .agent(&l.agent)
                            .payload(
                                crate::detail! { "cause": "expired", "lock_id": l.lock_id, "path": l.path },
                            ),
                    );
                }
                emit_granted(ctx, &id, granted);
            }
            let expired_session = slot.session.is_expired(now)
                && matches!(
                    slot.session.state(),
                    SessionState::Active | SessionState::Handshaking | SessionState::Created
                );
            if expired_session {
                ctx.emit(Event::new(EventType::SessionExpired, now).session(&id));
                if slot.session.state() == SessionState::Created {
                    let _ = slot.session.begin_handshake();
                }
                if self
                    .terminate_inner(&id, "expired: max_duration_seconds reached", ctx)
                    .is_ok()
                {
                    report.sessions += 1;
                }
            }
        }
        Ok(Reply::Ticked(report))
    }
}
